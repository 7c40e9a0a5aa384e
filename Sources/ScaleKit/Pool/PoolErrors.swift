/// The pool's own errors, worded so an operator can act on them.
enum PoolErrors {
    /// Every connection stayed busy for `pool_timeout`. Names the settings in
    /// force so the message says which knob to turn.
    static func exhausted(_ name: String, _ configuration: ConnectionPoolConfiguration) -> ScaleKitError {
        ScaleKitError(
            .poolExhausted,
            "connection pool '\(name)' exhausted: no connection became free within pool_timeout="
                + "\(formatSeconds(configuration.timeout)) (pool_size=\(configuration.keptSize), "
                + "max_overflow=\(max(0, configuration.maxOverflow)), all \(configuration.capacity) connections in use)")
    }

    static func shutDown(_ name: String) -> ScaleKitError {
        ScaleKitError(.poolShutDown, "connection pool '\(name)' is shut down and hands out no more connections")
    }

    static func cancelled(_ name: String) -> ScaleKitError {
        ScaleKitError(.cancelled, "cancelled while waiting for a connection from pool '\(name)'")
    }

    /// A factory error that is not a ScaleKitError becomes `connectionFailed`
    /// with the original as its cause (named by type in the description, its
    /// text left out); a ScaleKitError keeps its own code.
    static func connectFailed(_ name: String, _ error: any Error) -> ScaleKitError {
        if let error = error as? ScaleKitError { return error }
        return ScaleKitError(
            .connectionFailed, "connection pool '\(name)' could not open a connection", underlying: error)
    }

    /// `30s`, `0.5s`, `1.25s`: seconds with at most three decimals.
    static func formatSeconds(_ duration: Duration) -> String {
        let millis = duration.milliseconds
        if millis % 1000 == 0 { return "\(millis / 1000)s" }
        var text = String(Double(millis) / 1000)
        while text.hasSuffix("0") { text.removeLast() }
        return text + "s"
    }
}
