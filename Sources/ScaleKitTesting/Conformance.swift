/// A broken promise found by a conformance suite: which check, and what it saw.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    /// The name of the check that failed.
    public var check: String
    /// What was expected and what happened.
    public var message: String

    public var description: String { "conformance check '\(check)' failed: \(message)" }
}

/// Several failures from one suite run.
public struct ConformanceFailures: Error, Sendable, CustomStringConvertible {
    /// Every failed check, in the order the checks ran.
    public var failures: [any Error & Sendable]
    public var description: String {
        "\(failures.count) conformance check(s) failed:\n" + failures.map { "- \($0)" }.joined(separator: "\n")
    }
}

/// Runs named checks, collecting every failure instead of stopping at the first.
struct CheckRunner {
    private(set) var failures: [any Error & Sendable] = []

    mutating func run(_ name: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch let failure as ConformanceFailure {
            failures.append(failure)
        } catch {
            failures.append(ConformanceFailure(check: name, message: "threw \(error)"))
        }
    }

    func finish() throws {
        if !failures.isEmpty { throw ConformanceFailures(failures: failures) }
    }
}

/// Throws a ``ConformanceFailure`` unless `condition` holds.
func expect(_ condition: Bool, _ check: String, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConformanceFailure(check: check, message: message()) }
}

/// Throws unless `body` throws a ScaleKitError with `code`.
func expectError<T>(
    _ code: ScaleKitError.Code, _ check: String, _ body: () async throws -> T
) async throws {
    do {
        let value = try await body()
        throw ConformanceFailure(check: check, message: "expected a \(code) error, got \(value)")
    } catch let error as ScaleKitError {
        if error.code != code {
            throw ConformanceFailure(check: check, message: "expected a \(code) error, got \(error)")
        }
    }
}

import ScaleKit

/// Strings that have broken key schemas, SQL and scripts elsewhere; every backend must store them as they are.
public enum HostileStrings {
    /// Every hostile string, plain ones first.
    public static let all: [String] = [
        "plain",
        "with space",
        "line\r\nbreak",
        "quote'single\"double`back",
        "'; DROP TABLE videos; --",
        "Robert'); DELETE FROM videos WHERE ('1'='1",
        "lua]] redis.call('FLUSHALL') --[[",
        "{hash}tag:colon*star?[glob]",
        "ünïcødé 日本語 🎬 \u{200B}",
        "percent%s%d%n",
        "back\\slash\\\\",
        "$1 $2 ::text \\x00 E'\\\\'",
        "\u{10FFFF} \u{FEFF}bom ⚡︎",
        "\r",
        "\n\n",
        "*1\r\n$8\r\nFLUSHALL\r\n",
        "x' OR '1'='1'; SELECT pg_sleep(10); --",
        "$1 $2 ?, :name @var",
        "\u{1B}[2J\u{7F}\u{07}",
        String(repeating: "x", count: 1000),
    ]
}
