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
    private static var script: String? { ProcessInfo.processInfo.environment["SCALEKIT_TEST_SERVERS_SCRIPT"] }

    /// Whether the test can run here: the servers script is known (or servers are required, and then it fails).
    static var isAvailable: Bool { script != nil || TestServers.areRequired }

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

    /// Runs `commands` after sourcing servers.sh, their output going to a file.
    ///
    /// Spawned with posix_spawn, and every inherited descriptor above 2 closed
    /// first, because the server started inside keeps whatever it inherits:
    /// Foundation's Process watches its child through such a descriptor and
    /// would wait for the server to exit, not the shell.
    private static func run(_ commands: String, variables: [String: String]) async throws -> String {
        guard let script else { throw Failure(description: "SCALEKIT_TEST_SERVERS_SCRIPT is not set: run the tests through scripts/test.sh") }
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-pg-\(UUID()).out")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let shell = """
            for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"; done
            source "$SCALEKIT_SERVERS_SCRIPT"
            {
            \(commands)
            } > "$SCALEKIT_OUTPUT_FILE"
            """
        var environment = ProcessInfo.processInfo.environment.merging(variables) { $1 }
        environment["SCALEKIT_SERVERS_SCRIPT"] = script
        environment["SCALEKIT_OUTPUT_FILE"] = outputFile.path
        let finalEnvironment = environment
        // waitpid blocks: keep it off the cooperative pool.
        let status = try await runBlocking(on: DispatchQueue(label: "scalekit.test.servers")) {
            try spawnAndWait(["/bin/bash", "-c", shell], environment: finalEnvironment)
        }
        guard status == 0 else {
            throw Failure(description: "servers.sh failed (\(status)) running: \(commands)")
        }
        return (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
    }

    private static func spawnAndWait(_ arguments: [String], environment: [String: String]) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw Failure(description: "posix_spawn failed: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS are macros: exited normally when the low 7 bits are 0.
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}
