import ArgumentParser
import Logging
import ScaleKit
import ScaleKitServices

/// Loads the configuration from the environment and runs `body` with the
/// backends it selects, turning ScaleKit errors into documented exit codes.
/// Only the backends in `needs` are built: `acquire` must not fail because
/// the videos database (which it never touches) cannot be opened.
///
/// The tool's logger is also bound as the task-local `Logger.current`, so
/// what `body` builds without a `logger:` (a `VideoLeaseRescuer`) logs
/// through it too.
func withBackends<R: Sendable>(
    _ output: OutputOptions, needs: ScaleKitBackends.Needs = .all, _ body: @escaping @Sendable (ScaleKitBackends) async throws -> R
) async throws -> R {
    do {
        let configuration = try ScaleKitConfiguration.fromProcessEnvironment()
        let logger = makeLogger(output)
        return try await withLogger(logger) { logger in
            try await ScaleKitBackends.withBackends(configuration, needs: needs, logger: logger, body)
        }
    } catch let error as ScaleKitError {
        throw output.report(error)
    }
}

func makeLogger(_ output: OutputOptions) -> Logger {
    var logger = Logger(label: "scalekit") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = output.verbose ? .debug : .warning
    return logger
}
