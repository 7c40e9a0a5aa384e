import FuzzSupport
import ScaleKit

/// Any bytes: the parser must return an id of 11 valid characters or throw
/// invalidArgument, and never crash.
runFuzzer(fuzzOne)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: bytes(data, size), as: UTF8.self)
    do throws(ScaleKitError) {
        let id = try YouTubeVideoID(parsing: text)
        precondition(id.rawValue.utf8.count == 11, "an id must be 11 bytes")
        precondition(YouTubeVideoID(rawValue: id.rawValue) == id, "a parsed id must be valid")
    } catch {
        precondition(error.code == .invalidArgument, "unexpected error \(error)")
    }
    return 0
}
