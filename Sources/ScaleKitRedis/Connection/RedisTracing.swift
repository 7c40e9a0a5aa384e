import ScaleKit
import Tracing

extension RedisConnectionConfiguration {
    /// Sets the OpenTelemetry attributes that say which server a span talked
    /// to (`db.system`, `server.address`, `server.port`) and what it ran;
    /// never the password, the keys or the values.
    func describe(_ span: any Span, operation: String) {
        span.set(ScaleKitSpan.dbSystem, "redis")
        span.set(ScaleKitSpan.dbOperation, operation)
        switch endpoint {
        case .tcp(let host, let port):
            span.set(ScaleKitSpan.serverAddress, host)
            span.set(ScaleKitSpan.serverPort, port)
        case .unixSocket(let path):
            span.set(ScaleKitSpan.serverAddress, path)
        }
    }
}
