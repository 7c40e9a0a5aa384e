import Foundation
import FuzzSupport
import ScaleKit

/// Bytes as a WAV file for the pure-Swift reader (header parsing, the
/// unknown-length markers, truncation): it must read or throw audioDecoding.
// Top-level code runs in order and runFuzzer never returns: declare the path first.
private let path = FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-fuzz-wav-\(getpid()).wav").path

runFuzzer(fuzzOne)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes(data, size))) else { preconditionFailure("cannot write \(path)") }
    do {
        let buffer = try WAVFile.read(path: path)
        precondition(buffer.samples.count == buffer.frames * buffer.format.channels, "sample count mismatch")
        precondition(buffer.frames * buffer.format.channels * 2 <= size, "more samples than bytes")
    } catch let error as ScaleKitError {
        precondition(error.code == .audioDecoding, "unexpected error \(error)")
    } catch {
        preconditionFailure("untyped error \(error)")
    }
    return 0
}
