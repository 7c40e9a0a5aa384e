import Foundation

/// Runs functions of scripts/servers.sh (the script scripts/with-servers.sh
/// exports as `SCALEKIT_TEST_SERVERS_SCRIPT`) for tests that start servers of
/// their own: fault tests that kill, freeze or restart a server must never
/// touch the shared one other tests use in parallel.
public enum ServersScript {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The path of scripts/servers.sh, when the tests run through the test scripts.
    public static var path: String? { ProcessInfo.processInfo.environment["SCALEKIT_TEST_SERVERS_SCRIPT"] }

    /// Whether a test that needs its own servers can run (or, when servers are required, must fail).
    public static var isAvailable: Bool { path != nil || TestServers.areRequired }

    /// The variables servers.sh keeps its state in; scripts/with-servers.sh
    /// exports the shared servers' values, so a private server starts from none.
    public static let clearedState: [String: String] = [
        "PG_PORT": "", "PG_PID": "", "PGDATA": "", "SERVERS_DIR": "", "PG_BIN": "",
        "REDIS_PORT": "", "REDIS_PID": "", "REDIS_URL": "", "DATABASE_URL": "", "REDIS_CLUSTER_DIR": "", "REDIS_CLUSTER_NODES": "", "REDIS_TLS_PIDS": "",
    ]

    /// Runs `commands` in bash after sourcing servers.sh, with `variables`
    /// added to the environment, and returns what they wrote on standard output.
    ///
    /// Spawned with posix_spawn, every inherited descriptor above 2 closed
    /// first and the signal mask reset, because a server started inside keeps
    /// whatever it inherits: Foundation's Process watches its child through such
    /// a descriptor (and would wait for the server to exit, not the shell), and
    /// the test runner's threads block signals a server must be able to receive.
    public static func run(_ commands: String, variables: [String: String]) async throws -> String {
        guard let script = path else {
            throw Failure(description: "SCALEKIT_TEST_SERVERS_SCRIPT is not set: run the tests through scripts/test.sh")
        }
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-servers-\(UUID()).out")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let shell = """
            for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"; done
            source "$SCALEKIT_SERVERS_SCRIPT"
            {
            \(commands)
            } > "$SCALEKIT_OUTPUT_FILE"
            """
        // The shared servers' state (exported by scripts/with-servers.sh) never
        // leaks in: stop_servers would otherwise stop the shared servers.
        var environment = ProcessInfo.processInfo.environment.merging(clearedState) { $1 }.merging(variables) { $1 }
        environment["SCALEKIT_SERVERS_SCRIPT"] = script
        environment["SCALEKIT_OUTPUT_FILE"] = outputFile.path
        let finalEnvironment = environment
        // waitpid blocks for as long as a server takes to start. Not on
        // DispatchQueue.global(): on Linux its threads are the cooperative
        // pool's, so a few server starts at once froze every test's tasks.
        let status = try await offThePool { try spawnAndWait(["/bin/bash", "-c", shell], environment: finalEnvironment) }
        guard status == 0 else {
            throw Failure(description: "servers.sh failed (\(status)) running: \(commands)")
        }
        // Read through FileHandle: String(contentsOf:) leaks its read buffer in this
        // toolchain's FoundationEssentials (LeakSanitizer, readBytesFromFile).
        let handle = try FileHandle(forReadingFrom: outputFile)
        defer { try? handle.close() }
        return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    }

    private static func spawnAndWait(_ arguments: [String], environment: [String: String]) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw Failure(description: "posix_spawn failed: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS are macros: exited normally when the low 7 bits are 0.
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}

/// A redis-server and/or PostgreSQL of one test's own, started, crashed and
/// restarted through scripts/servers.sh (PostgreSQL as the `postgres` user,
/// exactly like the shared servers).
public final class PrivateServers: Sendable {
    /// `redis://127.0.0.1:port/0`, when Redis was started.
    public let redisURL: String?
    /// `postgresql://postgres@127.0.0.1:port/postgres`, when PostgreSQL was started.
    public let databaseURL: String?
    private let variables: [String: String]

    /// Starts the servers asked for.
    /// - Parameter redisAppendFsyncAlways: run Redis with `--appendonly yes
    ///   --appendfsync always`, so every write it acknowledged survives a kill -9.
    public static func start(redis: Bool, postgres: Bool, redisAppendFsyncAlways: Bool = false) async throws -> PrivateServers {
        var variables = ServersScript.clearedState
        if redisAppendFsyncAlways {
            variables["REDIS_APPENDONLY"] = "yes"
            variables["REDIS_APPENDFSYNC"] = "always"
        }
        let output = try await ServersScript.run(
            """
            \(redis ? "start_redis >/dev/null || { stop_servers; exit 1; }; echo \"$REDIS_PID\" > \"$SERVERS_DIR/redis.pid\"" : "_servers_dir")
            \(postgres ? "start_postgres >/dev/null || { stop_servers; exit 1; }" : "")
            printf '%s\\n' "$SERVERS_DIR" "${REDIS_URL:-}" "${REDIS_PORT:-}" "${REDIS_PID:-}" \
              "${DATABASE_URL:-}" "${PG_PORT:-}" "${PGDATA:-}" "${PG_BIN:-}"
            """, variables: variables)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 8 else { throw ServersScript.Failure(description: "unexpected output from servers.sh: \(output)") }
        variables["SERVERS_DIR"] = lines[0]
        variables["REDIS_PORT"] = lines[2]
        variables["REDIS_PID"] = lines[3]
        variables["PG_PORT"] = lines[5]
        variables["PGDATA"] = lines[6]
        variables["PG_BIN"] = lines[7]
        return PrivateServers(
            redisURL: lines[1].isEmpty ? nil : lines[1], databaseURL: lines[4].isEmpty ? nil : lines[4], variables: variables)
    }

    private init(redisURL: String?, databaseURL: String?, variables: [String: String]) {
        self.redisURL = redisURL
        self.databaseURL = databaseURL
        self.variables = variables
    }

    /// The redis-server's current pid (it changes at every start).
    public func redisPID() throws -> Int32 {
        let path = (variables["SERVERS_DIR"] ?? "") + "/redis.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ServersScript.Failure(description: "no redis pid in \(path)")
        }
        return pid
    }

    /// kill -9 of redis-server: no shutdown, no final save.
    public func crashRedis() async throws {
        _ = try await ServersScript.run(Self.currentRedisPID + "crash_redis", variables: variables)
    }

    /// Starts redis-server again on the same port and data folder (it reloads its append-only file).
    public func restartRedis() async throws {
        _ = try await ServersScript.run(Self.currentRedisPID + "crash_redis; _redis_launch || exit 1; echo \"$REDIS_PID\" > \"$SERVERS_DIR/redis.pid\"", variables: variables)
    }

    /// kill -9 of the postmaster and every backend.
    public func crashPostgres() async throws {
        _ = try await ServersScript.run(Self.currentPostgresPID + "crash_postgres", variables: variables)
    }

    /// Starts PostgreSQL again on the same port and data folder (after a crash: crash recovery from the WAL).
    public func restartPostgres() async throws {
        _ = try await ServersScript.run(Self.currentPostgresPID + "crash_postgres; _pg_launch || exit 1", variables: variables)
    }

    /// Stops (kill -9) both servers and deletes their data.
    public func destroy() async {
        _ = try? await ServersScript.run(
            Self.currentRedisPID + Self.currentPostgresPID + "crash_redis; crash_postgres; stop_servers", variables: variables)
    }

    /// Shell lines that read the servers' current pids from their data folders.
    private static let currentRedisPID = """
        REDIS_PID=$(cat "$SERVERS_DIR/redis.pid" 2>/dev/null)

        """
    private static let currentPostgresPID = """
        [ -n "$PGDATA" ] && PG_PID=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null)

        """
}
