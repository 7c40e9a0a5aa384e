import ScaleKit
import Testing

@Suite struct ScaleKitErrorTests {
    /// Text of an error ScaleKit does not control, which may hold anything.
    struct Foreign: Error, CustomStringConvertible {
        var description: String { "password=hunter2 in a driver's message" }
    }

    @Test func aForeignCauseIsNamedByTypeNotByItsText() {
        let error = ScaleKitError(.connectionFailed, "could not connect", nativeCode: "08006", underlying: Foreign())
        #expect(error.description == "ScaleKitError.connectionFailed: could not connect [08006] (caused by: Foreign)")
        #expect(error.underlying is Foreign)
    }

    @Test func aScaleKitCauseIsPrintedWithItsOwnDescription() {
        let inner = ScaleKitError(.timeout, "no answer within 5s", underlying: Foreign())
        let error = ScaleKitError(.databaseError, "claim video failed", underlying: inner)
        #expect(error.description
            == "ScaleKitError.databaseError: claim video failed (caused by: ScaleKitError.timeout: no answer within 5s (caused by: Foreign))")
    }

    @Test func aCauseTheMessageAlreadyQuotesIsNotPrintedTwice() {
        let inner = ScaleKitError(.timeout, "no answer within 5s")
        let error = ScaleKitError(.databaseError, "claim video failed: \(inner.message)", underlying: inner)
        #expect(error.description == "ScaleKitError.databaseError: claim video failed: no answer within 5s")
    }

    @Test func newCodesAreDistinct() {
        #expect(ScaleKitError.Code.connectionClosed != .poolShutDown)
        #expect(ScaleKitError.Code.conflict != .timeout)
        #expect(ScaleKitError.Code.connectionClosed.description == "connectionClosed")
        #expect(ScaleKitError.Code.conflict.description == "conflict")
    }
}
