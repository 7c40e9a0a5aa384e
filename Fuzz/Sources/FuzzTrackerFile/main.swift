@_spi(Fuzzing) import ScaleKit
import FuzzSupport

/// Bytes as an API tracker file: parsing and counting a call must succeed
/// or throw corruptData, never trap on a number.
runFuzzer(fuzzOne)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do throws(ScaleKitError) {
        let usage = try FileAPITracker.fuzzFileContents(Array(bytes(data, size)))
        // The call is counted or, when a stored count already reaches a limit
        // (a limit lowered since it was written), denied: never lost.
        precondition(usage.totalCalls + usage.denied >= 1 && usage.successes >= 1, "counting lost a call")
    } catch {
        precondition(error.code == .corruptData, "unexpected error \(error)")
    }
    return 0
}
