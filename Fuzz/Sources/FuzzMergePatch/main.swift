import Foundation
import FuzzSupport
import ScaleKit

/// The first half of the input is a target document, the second a patch.
/// Decoding must throw a typed error or succeed; merging must be idempotent
/// (RFC 7396: applying the same patch twice gives the same result), and
/// status patch validation must never crash.
runFuzzer(fuzzOne)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(bytes(data, size))
    let middle = bytes.count / 2
    guard let target = decode(bytes.prefix(middle)), let patch = decode(bytes.suffix(from: middle)) else { return 0 }
    let once = JSONMergePatch.apply(patch, to: target)
    let twice = JSONMergePatch.apply(patch, to: once)
    precondition(once == twice, "merge patch must be idempotent")
    do throws(ScaleKitError) {
        try JobStatus.validatePatch(patch, limits: .default)
        let merged = JSONMergePatch.apply(patch, to: .object([:]))
        _ = try JobStatus(jsonObject: merged)
    } catch {
        precondition(error.code == .invalidArgument || error.code == .corruptData, "unexpected error \(error)")
    }
    return 0
}

private func decode(_ data: Data) -> JSONValue? {
    do throws(ScaleKitError) {
        return try JSONValue.decode(Data(data), limits: JSONValue.Limits(maximumDepth: 16, maximumBytes: 64 * 1024))
    } catch {
        precondition(error.code == .invalidArgument || error.code == .corruptData, "unexpected error \(error)")
        return nil
    }
}
