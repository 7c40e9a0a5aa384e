import InMemoryLogging
import Logging
import ScaleKit
import ScaleKitSQLite
import ScaleKitTestSupport
import Testing

/// Components log through the logger they are given, or the caller's
/// task-local `Logger.current`, never through one they make themselves.
@Suite struct LoggerPropagationTests {
    @Test func aComponentBuiltWithoutALoggerUsesTheBoundOne() async throws {
        let folder = try TemporaryFolder()
        let handler = InMemoryLogHandler()
        let repository = try await withLogger(Logger(label: "app") { _ in handler }) { _ in
            try await SQLiteVideoRepository(path: folder.path("videos.sqlite"))
        }
        #expect(handler.entries.contains { "\($0.message)" == "applied SQLite schema migrations" })
        await repository.close()
    }

    @Test func aGivenLoggerWinsOverTheBoundOne() async throws {
        let folder = try TemporaryFolder()
        let (bound, given) = (InMemoryLogHandler(), InMemoryLogHandler())
        let repository = try await withLogger(Logger(label: "app") { _ in bound }) { _ in
            try await SQLiteVideoRepository(path: folder.path("videos.sqlite"), logger: Logger(label: "given") { _ in given })
        }
        #expect(given.entries.count == 1 && bound.entries.isEmpty)
        await repository.close()
    }
}
