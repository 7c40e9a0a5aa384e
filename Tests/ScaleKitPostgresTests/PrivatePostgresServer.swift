import Foundation
import ScaleKit
import ScaleKitTestSupport

/// A PostgreSQL server of the test's own, started with scripts/servers.sh
/// (as the `postgres` user, like the shared test server), so a test may stop
/// and restart it without disturbing tests that share the main server.
final class PrivatePostgresServer: Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let url: String
    private let variables: [String: String]
    /// Whether the test can run here: the servers script is known (or servers are required, and then it fails).
    static var isAvailable: Bool { ServersScript.isAvailable }

    static func start() async throws -> PrivatePostgresServer {
        let output = try await run(
            """
            start_postgres >/dev/null || { stop_servers; exit 1; }
            printf '%s\\n' "$DATABASE_URL" "$PG_PID" "$PGDATA" "$SERVERS_DIR" "$PG_PORT" "$PG_BIN"
            """,
            // scripts/with-servers.sh exports the shared server's values; start from none.
            variables: ["PG_PORT": "", "PG_PID": "", "PGDATA": "", "SERVERS_DIR": "", "PG_BIN": ""])
        let lines = output.split(separator: "\n").map(String.init)
        guard lines.count == 6 else { throw Failure(description: "unexpected output from start_postgres: \(output)") }
        return PrivatePostgresServer(
            url: lines[0],
            variables: [
                "PG_PID": lines[1], "PGDATA": lines[2], "SERVERS_DIR": lines[3], "PG_PORT": lines[4], "PG_BIN": lines[5],
            ])
    }

    private init(url: String, variables: [String: String]) {
        self.url = url
        self.variables = variables
    }

    /// Stops the server (fast shutdown, by pid) and waits until it is gone.
    func stop() async throws {
        // The pid changes at every start: read the current one from the data folder.
        _ = try await Self.run("PG_PID=$(head -1 \"$PGDATA/postmaster.pid\"); stop_postgres", variables: variables)
    }

    /// Starts the server again on the same port and data folder.
    func startAgain() async throws {
        _ = try await Self.run("_pg_launch || exit 1", variables: variables)
    }

    /// Stops the server and deletes its data.
    func destroy() async {
        // The pid may have changed after a restart: read it from the data folder.
        _ = try? await Self.run(
            "PG_PID=$(head -1 \"$PGDATA/postmaster.pid\" 2>/dev/null); stop_servers", variables: variables)
    }

    /// Runs `commands` after sourcing servers.sh (see ``ServersScript/run(_:variables:)``).
    private static func run(_ commands: String, variables: [String: String]) async throws -> String {
        try await ServersScript.run(commands, variables: variables)
    }
}
