import ArgumentParser
import Foundation
import ScaleKit
import ScaleKitAudio
import ScaleKitServices

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show the configuration and which backend each primitive uses, and check the servers.",
        discussion: """
            Secrets are redacted. With --audit, also checks the servers' settings that ScaleKit's promises depend on \
            (Redis eviction and persistence, PostgreSQL connections and durability, clocks, a pooler in between, \
            FFmpeg's encoders) and says for each: ok, warning or wrong, and how to fix it.
            Exits 65 when a variable is malformed, 1 when a server does not answer, 6 when the audit found a wrong \
            setting (warnings alone exit 0).
            """
    )

    @OptionGroup var output: OutputOptions

    @Flag(help: "Check the servers' settings against what ScaleKit's guarantees need.")
    var audit = false

    @Option(help: "With --audit: how many worker processes share the servers, for the connection budget.")
    var workers: Int = 1

    struct Report: Encodable {
        struct Setting: Encodable { var variable: String; var value: String?; var effective: String }
        struct Choice: Encodable { var primitive, backend, location, reason, message: String; var distributed: Bool }
        struct Health: Encodable { var name: String; var ok: Bool; var error: String? }
        struct QuotaEntry: Encodable {
            struct Limit: Encodable { var name, window: String; var count: Int; var perKey: Bool }
            var name: String
            var limits: [Limit]
        }
        var settings: [Setting]
        var backends: [Choice]
        var health: [Health]
        /// Every API quota, the default first.
        var quotas: [QuotaEntry]
        /// Present with `--audit`.
        var audit: [AuditFinding]?
    }

    func validate() throws {
        guard (1...100_000).contains(workers) else {
            throw ValidationError("--workers must be between 1 and 100000 (got \(workers))")
        }
    }

    func run() async throws {
        let configuration: ScaleKitConfiguration
        do {
            configuration = try ScaleKitConfiguration.fromProcessEnvironment()
        } catch {
            throw output.report(error)
        }
        let quotas: [Quota]
        do { quotas = try await configuration.allAPIQuotas() } catch { throw output.report(error) }
        let environment = ProcessInfo.processInfo.environment
        let settings = Variable.all.map { variable in
            Report.Setting(
                variable: variable.name, value: environment[variable.name].map(redactingCredentials(in:)),
                effective: Self.effective(variable, configuration))
        }
        let (audit, context) = (audit, AuditContext(expectedWorkers: workers))
        let report = try await withBackends(output) { backends in
            var health: [Report.Health] = []
            for check in backends.healthChecks {
                do {
                    try await check.check()
                    health.append(Report.Health(name: check.name, ok: true, error: nil))
                } catch {
                    health.append(Report.Health(name: check.name, ok: false, error: "\(error)"))
                }
            }
            var findings: [AuditFinding]?
            if audit {
                var all: [AuditFinding] = []
                // An unreachable server is already in `health`: its audit is skipped, not a finding.
                let reachable = Set(health.filter(\.ok).map(\.name))
                for probe in backends.audits where reachable.contains(probe.name) {
                    if let found = try? await probe.run(context) { all += found }
                }
                findings = all + Self.audioFindings()
            }
            return Report(
                settings: settings,
                backends: backends.choices.map {
                    Report.Choice(
                        primitive: $0.primitive, backend: $0.backend, location: $0.location, reason: $0.reason,
                        message: $0.description, distributed: $0.isDistributed)
                },
                health: health, quotas: Self.quotaEntries(configuration.apiLimits, quotas), audit: findings)
        }
        output.emit(report) {
            var lines = ["Configuration:"]
            for setting in report.settings {
                lines.append("  \(setting.variable.padding(toLength: 22, withPad: " ", startingAt: 0)) \(setting.effective)\(setting.value == nil ? " (default)" : "")")
            }
            lines.append("API quotas:")
            for quota in report.quotas {
                let limits = quota.limits.map { "\($0.name) \($0.count)/\($0.window)\($0.perKey ? " per key" : "")" }
                lines.append("  \(quota.name): \(limits.joined(separator: ", "))")
            }
            lines.append("Backends:")
            lines += report.backends.map { "  \($0.message)" }
            if !report.health.isEmpty {
                lines.append("Servers:")
                lines += report.health.map { "  \($0.name): \($0.ok ? "ok" : "UNREACHABLE: \($0.error ?? "")")" }
            }
            if let findings = report.audit {
                lines.append("Audit:")
                for finding in findings {
                    lines.append("  \(finding.verdict.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) \(finding.component) \(finding.check): \(finding.detail)")
                    if !finding.fix.isEmpty { lines.append("          fix: \(finding.fix)") }
                }
            }
            return lines.joined(separator: "\n")
        }
        if report.health.contains(where: { !$0.ok }) { throw ExitStatus.backendFailure }
        if report.audit?.contains(where: { $0.verdict == .wrong }) == true { throw ExitStatus.auditFailed }
    }

    private static func quotaEntries(_ limits: APILimits, _ extra: [Quota]) -> [Report.QuotaEntry] {
        let all = [Quota.rapidAPI(limits)] + extra
        return all.map { quota in
            Report.QuotaEntry(name: quota.name, limits: quota.limits.map {
                Report.QuotaEntry.Limit(name: $0.name, window: Self.describe($0.window), count: $0.count, perKey: $0.perKey)
            })
        }
    }

    private static func describe(_ window: QuotaWindow) -> String {
        if case .calendar(let unit, let zone) = window, zone != .utc, !["UTC", "GMT"].contains(zone.identifier) { return "\(unit.rawValue) (\(zone.identifier))" }
        return window.label
    }

    /// The encoders for the lossy formats a dubbing service delivers.
    private static func audioFindings() -> [AuditFinding] {
        [(AudioFileFormat.m4a, "AAC"), (.mp3, "MP3"), (.opus, "Opus")].map { format, name in
            if let encoder = FFmpegCapabilities.encoder(for: format) {
                return AuditFinding(component: "audio", check: "\(name) encoder", verdict: .ok, detail: "FFmpeg encodes \(name) with \(encoder)")
            }
            return AuditFinding(
                component: "audio", check: "\(name) encoder", verdict: .warning,
                detail: "this FFmpeg build has no \(name) encoder: .\(format.rawValue) output fails with audioEncoding",
                fix: "install an FFmpeg built with it (Debian's libavcodec59 has aac, libmp3lame and libopus)")
        }
    }

    private static func effective(_ variable: Variable, _ configuration: ScaleKitConfiguration) -> String {
        switch variable {
        case .redisURL: return configuration.redactedRedisURL ?? "(unset)"
        case .redisClusterNodes: return configuration.redisClusterNodes.map { printable($0) } ?? "(unset)"
        case .redisWaitReplicas: return "\(configuration.redisReplicaAcknowledgements)"
        // The files' paths, never what is in them.
        case .redisTLSCAFile: return configuration.redisTLSCAFile.map { printable($0) } ?? "(unset: the system's roots)"
        case .redisTLSCertificateFile: return configuration.redisTLSCertificateFile.map { printable($0) } ?? "(unset)"
        case .redisTLSKeyFile: return configuration.redisTLSKeyFile.map { printable($0) } ?? "(unset)"
        case .databaseURL: return configuration.database.description
        case .poolSize: return "\(configuration.pool.size)"
        case .maxOverflow: return "\(configuration.pool.maxOverflow)"
        case .poolTimeout: return "\(configuration.pool.timeout)"
        case .poolRecycle: return "\(configuration.pool.recycle)"
        case .dailyLimit: return "\(configuration.apiLimits.daily)"
        case .hourlyLimit: return "\(configuration.apiLimits.hourly)"
        case .apiTrackerFile: return configuration.apiTrackerFile
        case .quotas: return configuration.apiQuotas.isEmpty ? "(none)" : configuration.apiQuotas.map(\.name).joined(separator: ", ")
        case .quotasFile: return configuration.apiQuotaFile ?? "(unset)"
        default: return "?"
        }
    }
}
