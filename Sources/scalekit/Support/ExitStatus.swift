import ArgumentParser
import ScaleKit

/// The exit codes scripts can rely on (listed in `scalekit --help`).
enum ExitStatus {
    static let backendFailure = ExitCode(1)
    static let denied = ExitCode(3)
    static let notFound = ExitCode(4)
    static let notClaimHolder = ExitCode(5)
    static let invalidConfiguration = ExitCode(65)
    /// `doctor --audit` found a setting that can break a promise (a `wrong` finding).
    static let auditFailed = ExitCode(6)

    /// The exit code for an error a command did not handle itself.
    static func forError(_ error: ScaleKitError) -> ExitCode {
        switch error.code {
        case .invalidConfiguration: return invalidConfiguration
        case .invalidArgument: return ExitCode.validationFailure
        case .notFound: return notFound
        case .notClaimHolder: return notClaimHolder
        default: return backendFailure
        }
    }
}
