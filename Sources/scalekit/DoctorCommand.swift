import ArgumentParser
import Foundation
import ScaleKit
import ScaleKitServices

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show the configuration and which backend each primitive uses, and check the servers.",
        discussion: "Secrets are redacted. Exits 65 when a variable is malformed, 1 when a server does not answer."
    )

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        struct Setting: Encodable { var variable: String; var value: String?; var effective: String }
        struct Choice: Encodable { var primitive, backend, location, reason, message: String; var distributed: Bool }
        struct Health: Encodable { var name: String; var ok: Bool; var error: String? }
        var settings: [Setting]
        var backends: [Choice]
        var health: [Health]
    }

    func run() async throws {
        let configuration: ScaleKitConfiguration
        do {
            configuration = try ScaleKitConfiguration.fromProcessEnvironment()
        } catch {
            throw output.report(error)
        }
        let environment = ProcessInfo.processInfo.environment
        let settings = Variable.all.map { variable in
            Report.Setting(
                variable: variable.name, value: environment[variable.name].map(redactingCredentials(in:)),
                effective: Self.effective(variable, configuration))
        }
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
            return Report(
                settings: settings,
                backends: backends.choices.map {
                    Report.Choice(
                        primitive: $0.primitive, backend: $0.backend, location: $0.location, reason: $0.reason,
                        message: $0.description, distributed: $0.isDistributed)
                },
                health: health)
        }
        output.emit(report) {
            var lines = ["Configuration:"]
            for setting in report.settings {
                lines.append("  \(setting.variable.padding(toLength: 22, withPad: " ", startingAt: 0)) \(setting.effective)\(setting.value == nil ? " (default)" : "")")
            }
            lines.append("Backends:")
            lines += report.backends.map { "  \($0.message)" }
            if !report.health.isEmpty {
                lines.append("Servers:")
                lines += report.health.map { "  \($0.name): \($0.ok ? "ok" : "UNREACHABLE: \($0.error ?? "")")" }
            }
            return lines.joined(separator: "\n")
        }
        if report.health.contains(where: { !$0.ok }) { throw ExitStatus.backendFailure }
    }

    private static func effective(_ variable: Variable, _ configuration: ScaleKitConfiguration) -> String {
        switch variable {
        case .redisURL: return configuration.redactedRedisURL ?? "(unset)"
        case .databaseURL: return configuration.database.description
        case .poolSize: return "\(configuration.pool.size)"
        case .maxOverflow: return "\(configuration.pool.maxOverflow)"
        case .poolTimeout: return "\(configuration.pool.timeout)"
        case .poolRecycle: return "\(configuration.pool.recycle)"
        case .dailyLimit: return "\(configuration.apiLimits.daily)"
        case .hourlyLimit: return "\(configuration.apiLimits.hourly)"
        case .apiTrackerFile: return configuration.apiTrackerFile
        default: return "?"
        }
    }
}
