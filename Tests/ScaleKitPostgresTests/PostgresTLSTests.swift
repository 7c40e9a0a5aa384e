import Foundation
import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import Testing

/// TLS to the test PostgreSQL (ssl=on, a certificate from the test script's
/// own CA, for 127.0.0.1 and localhost): libpq verifies it with
/// `sslmode=verify-full`, and ScaleKit passes the URL's TLS parameters through.
@Suite("PostgreSQL over TLS", .enabled(if: TestServers.postgresTLSEnabled))
struct PostgresTLSTests {
    /// Never checked by the server (trust authentication): only here to be looked for in errors.
    static let password = "tls-s3cret-Pw"

    static func url(host: String = "127.0.0.1", rootCertificate: String) throws -> String {
        let direct = try TestServers.requireDatabaseURL()
        let port = try #require(URLComponents(string: direct)?.port)
        return "postgresql://postgres:\(password)@\(host):\(port)/postgres?sslmode=verify-full&sslrootcert=\(rootCertificate)"
    }

    @Test(arguments: ["127.0.0.1", "localhost"])
    func verifyFullWithTheRightCAConnectsAndTheRepositoryWorks(host: String) async throws {
        let tls = try TestServers.requirePostgresTLS()
        let url = try Self.url(host: host, rootCertificate: tls.ca)
        let connection = try await PostgresConnection.connect(url: url)
        let rows = try await connection.query("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()", name: "tls in use")
        await connection.close()
        #expect(rows.first?[0] == "true")

        let database = PostgresTestDatabase(url: url)
        let repository = try database.repository()
        let claim = try await repository.claimVideo(id: "tls-\(UUID().uuidString)")
        let token = try #require(claim.token)
        let completed = try await repository.completeVideo(id: claim.video.id, token: token)
        await database.shutdownAll()
        #expect(claim.outcome == .created && completed.state == .completed)
    }

    @Test func aWrongCAIsRefusedAsACertificateProblemWithoutThePassword() async throws {
        let tls = try TestServers.requirePostgresTLS()
        let url = try Self.url(rootCertificate: tls.wrongCA)
        let error = await #expect(throws: ScaleKitError.self) { try await PostgresConnection.connect(url: url) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("TLS certificate problem") == true, "\(String(describing: error))")
        #expect(error.map { "\($0)".contains(Self.password) } == false, "\(String(describing: error))")

        // The repository reports the same, through its pool.
        let database = PostgresTestDatabase(url: url)
        let repository = try database.repository()
        let fromRepository = await #expect(throws: ScaleKitError.self) { try await repository.video(id: "x") }
        await database.shutdownAll()
        #expect(fromRepository?.code == .connectionFailed)
        #expect(fromRepository.map { "\($0)".contains("certificate") && !"\($0)".contains(Self.password) } == true, "\(String(describing: fromRepository))")
    }
}
