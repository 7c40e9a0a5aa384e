import Foundation
import FuzzSupport
import ScaleKit

/// Bytes as a timeline file: decoding must give a timeline or throw
/// invalidTimeline, never trap; a decoded preferred format is in range.
runFuzzer(fuzzOne)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let timeline = try AudioTimeline.decode(json: Data(bytes(data, size)), relativeTo: "/fuzz")
        if let format = timeline.preferredFormat {
            precondition((1_000...384_000).contains(format.sampleRate) && (1...2).contains(format.channels), "format out of range: \(format)")
        }
    } catch let error as ScaleKitError {
        precondition(error.code == .invalidTimeline, "unexpected error \(error)")
    } catch {
        preconditionFailure("untyped error \(error)")
    }
    return 0
}
