import ArgumentParser
import Foundation
import ScaleKit

@main
struct ScaleKitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scalekit",
        abstract: "Inspect and drive ScaleKit's backends from the shell.",
        discussion: """
            Every command uses the backends the environment selects (REDIS_URL, DATABASE_URL, \
            DB_POOL_*, RAPIDAPI_*_LIMIT, API_TRACKER_FILE); `scalekit doctor` shows which.

            Exit codes:
              0   success
              1   the backend failed (unreachable server, corrupt data, I/O error)
              3   denied: an API limit was reached (acquire), or the claim was not won (claim)
              4   not found (status get, complete, fail)
              5   the token does not hold the claim (complete, fail)
              64  invalid command-line usage
              65  invalid configuration (a malformed environment variable)
            """,
        subcommands: [
            DoctorCommand.self,
            DemoCommand.self,
            AcquireCommand.self,
            RecordCommand.self,
            RefundCommand.self,
            UsageCommand.self,
            StatusCommand.self,
            ClaimCommand.self,
            CompleteCommand.self,
            FailCommand.self,
            VideosCommand.self,
            EnqueueCommand.self,
            RescueCommand.self,
            HammerCommand.self,
            MixCommand.self,
            JoinCommand.self,
        ]
    )

    /// Checks the raw argument bytes before ArgumentParser sees them (see
    /// ``ArgumentBytes``), then parses and runs the command as ArgumentParser's own `main` does.
    static func main() async {
        do {
            try ArgumentBytes.validateUTF8()
        } catch {
            Console.error("error: \(error.code): \(error.message)")
            Foundation.exit(ExitStatus.forError(error).rawValue)
        }
        do {
            var command = try parseAsRoot(nil)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
