import Foundation
import Logging
import Metrics
import Prometheus
import ScaleKit
import ScaleKitServices
import VideoService

// Configuration comes only from the environment: ScaleKit's variables pick
// the backends (none set: the embedded defaults), PORT the port.
let environment = ProcessInfo.processInfo.environment
LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
var logger = Logger(label: "video-service")
logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

let registry = PrometheusCollectorRegistry()

do {
    let observability = try Observability.bootstrap(registry: registry, environment: environment)
    let settings = try VideoServiceSettings(environment: environment)
    let configuration = try ScaleKitConfiguration(environment: environment)
    logger[metadataKey: "instance"] = "\(settings.instanceName)"
    let backends = try await ScaleKitBackends.make(configuration, logger: logger)
    let app = VideoServiceApp.makeApplication(
        settings: settings, backends: backends, registry: registry, observability: observability, logger: logger)
    // SIGTERM / SIGINT trigger the graceful shutdown.
    try await app.runService()
} catch let error as ScaleKitError {
    logger.critical("\(error)")
    exit(error.code == .invalidConfiguration ? 2 : 1)
} catch {
    logger.critical("video-service could not start: \(error)")
    exit(1)
}
