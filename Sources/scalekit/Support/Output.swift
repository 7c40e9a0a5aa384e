import ArgumentParser
import Foundation
import ScaleKit

/// `--json` and the printing every command shares.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document on standard output instead of text.")
    var json = false

    @Flag(name: .long, help: "Log what the backends do on standard error.")
    var verbose = false

    /// Prints `value` as JSON, or `text()` when --json is off.
    func emit<T: Encodable>(_ value: T, text: () -> String) {
        if json {
            print(String(decoding: Self.encode(value), as: UTF8.self))
        } else {
            print(text())
        }
    }

    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(value)) ?? Data("null".utf8)
    }

    /// Reports `error` on standard error (as JSON with --json, on standard
    /// output) and returns the exit code for it.
    func report(_ error: ScaleKitError) -> ExitCode {
        if json {
            print(String(decoding: Self.encode(["error": ["code": error.code.description, "message": error.message]]), as: UTF8.self))
        } else {
            Console.error("error: \(error.code): \(error.message)")
        }
        return ExitStatus.forError(error)
    }
}

enum Console {
    /// Writes a line to standard error.
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
