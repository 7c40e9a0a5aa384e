import ArgumentParser
import Foundation
import ScaleKit

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Read, merge or delete a job's status.",
        subcommands: [Get.self, Merge.self, Delete.self]
    )

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's status JSON; exits 4 when there is none.")
        @OptionGroup var output: OutputOptions
        @Argument(help: "The job id.") var id: String

        func run() async throws {
            let id = id
            let status = try await withBackends(output, needs: .statusTracker) { try await $0.statusTracker.status(for: id) }
            guard let status else {
                if output.json { print("null") } else { Console.error("no status for \(id.debugDescription)") }
                throw ExitStatus.notFound
            }
            print(String(decoding: status.jsonObject.encoded(), as: UTF8.self))
        }
    }

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Atomically merge an RFC 7396 JSON patch into a job's status and print the result.")
        @OptionGroup var output: OutputOptions
        @Argument(help: "The job id.") var id: String
        @Argument(help: "A JSON object, e.g. '{\"status\":\"processing\",\"progress\":0.5}', or @FILE to read it from FILE.")
        var patch: String
        @Option(help: "Time to live in seconds (default 86400).") var ttl: Int?

        func run() async throws {
            let (id, ttl) = (id, ttl)
            let output = output
            let patch: JSONValue
            do { patch = try Self.decodePatch(self.patch) } catch { throw output.report(error) }
            let merged = try await withBackends(output, needs: .statusTracker) { backends in
                try await backends.statusTracker.mergeStatus(patch, for: id, ttl: ttl.map { .seconds($0) })
            }
            print(String(decoding: merged.jsonObject.encoded(), as: UTF8.self))
        }

        /// The patch argument (or the file it names with `@`) as JSON; a
        /// malformed document is the caller's mistake: `invalidArgument`.
        private static func decodePatch(_ argument: String) throws(ScaleKitError) -> JSONValue {
            var bytes = Data(argument.utf8)
            if argument.hasPrefix("@") {
                let path = String(argument.dropFirst())
                do {
                    bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                } catch {
                    throw ScaleKitError(.ioError, "cannot read the patch from \(path.debugDescription): \(error.localizedDescription)")
                }
            }
            do {
                return try JSONValue.decode(bytes)
            } catch where error.code == .corruptData {
                throw ScaleKitError(.invalidArgument, "the patch is not valid JSON: \(error.message)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a job's status; exits 4 when there was none.")
        @OptionGroup var output: OutputOptions
        @Argument(help: "The job id.") var id: String

        func run() async throws {
            let id = id
            let existed = try await withBackends(output, needs: .statusTracker) { try await $0.statusTracker.deleteStatus(for: id) }
            output.emit(["deleted": existed]) { existed ? "deleted" : "no status for \(id.debugDescription)" }
            if !existed { throw ExitStatus.notFound }
        }
    }
}
