import Foundation
import ScaleKitTestSupport
import Testing

/// `scalekit` configured for TLS from the environment: `rediss://` plus
/// `REDIS_TLS_CA_FILE`, `REDIS_TLS_CERT_FILE` and `REDIS_TLS_KEY_FILE`.
@Suite struct RedisTLSToolTests {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    static var enabled: Bool { environment["SCALEKIT_TEST_REDIS_MTLS_URL"] != nil || TestServers.areRequired }

    private static func value(_ name: String) throws -> String {
        guard let value = environment["SCALEKIT_TEST_REDIS_\(name)"] else {
            throw TestServers.Missing(description: "SCALEKIT_TEST_REDIS_\(name) is not set: run the tests through scripts/test.sh")
        }
        return value
    }

    /// Against the server that requires a client certificate: counts go
    /// through, and `doctor` names the files without printing what is in them.
    @Test(.enabled(if: enabled)) func mutualTLSFromTheEnvironment() async throws {
        let folder = try TemporaryFolder()
        let key = try Self.value("TLS_CLIENT_KEY")
        let environment = [
            "REDIS_URL": try Self.value("MTLS_URL"), "REDIS_TLS_CA_FILE": try Self.value("TLS_CA"),
            "REDIS_TLS_CERT_FILE": try Self.value("TLS_CLIENT_CERT"), "REDIS_TLS_KEY_FILE": key,
            "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))", "SCALEKIT_QUOTAS": "tls\(UUID().uuidString.prefix(8).lowercased())=100/day",
        ]
        let quota = String(environment["SCALEKIT_QUOTAS"]!.prefix { $0 != "=" })
        let results = try await ScaleKitProcesses.run(count: 2, environment: environment) { _ in
            ["hammer", "api", "--quota", quota, "--calls", "30", "--tasks", "3"]
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        #expect(try results.map { try $0.counts()["allowed"] ?? -1 }.reduce(0, +) == 60)

        let doctor = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["doctor"])
        #expect(doctor.status == 0, "\(doctor.standardOutput)\(doctor.standardError)")
        #expect(doctor.standardOutput.contains("REDIS_TLS_KEY_FILE") && doctor.standardOutput.contains(key), "\(doctor.standardOutput)")
        let pem = try String(contentsOfFile: key, encoding: .utf8)
        let secretLine = try #require(pem.split(separator: "\n").dropFirst().first)
        #expect(!doctor.standardOutput.contains(secretLine) && !doctor.standardError.contains(secretLine))

        // Without the client certificate the server refuses, and the tool says so.
        var noCertificate = environment
        noCertificate["REDIS_TLS_CERT_FILE"] = nil
        noCertificate["REDIS_TLS_KEY_FILE"] = nil
        let refused = try await ScaleKitProcesses.runOne(environment: noCertificate, arguments: ["acquire"])
        #expect(refused.status != 0 && refused.standardError.contains("TLS"), "\(refused.standardError)")
    }

    /// TLS files with a plain `redis://` URL are refused, not ignored.
    @Test func tlsFilesWithAPlainURLAreRefused() async throws {
        let folder = try TemporaryFolder()
        let result = try await ScaleKitProcesses.runOne(
            environment: [
                "REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_TLS_CA_FILE": "/etc/ssl/certs/ca-certificates.crt",
                "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))",
            ], arguments: ["usage"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss://"), "\(result.standardError)")
    }
}
