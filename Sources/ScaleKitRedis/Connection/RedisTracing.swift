import ScaleKit
import Tracing

extension RedisConnectionConfiguration {
    /// Sets the OpenTelemetry attributes that say which server a span talked
    /// to (`db.system`, `server.address`, `server.port`) and what it ran;
    /// never the password, the keys or the values.
    func describe(_ span: any Span, operation: String) {
        span.attributes[ScaleKitSpan.dbSystem] = "redis"
        span.attributes[ScaleKitSpan.dbOperation] = operation
        switch endpoint {
        case .tcp(let host, let port):
            span.attributes[ScaleKitSpan.serverAddress] = host
            span.attributes[ScaleKitSpan.serverPort] = port
        case .unixSocket(let path):
            span.attributes[ScaleKitSpan.serverAddress] = path
        }
    }
}
