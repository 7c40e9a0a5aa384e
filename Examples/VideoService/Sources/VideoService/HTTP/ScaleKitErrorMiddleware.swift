import Hummingbird
import ScaleKit

/// Answers every ScaleKit error a route throws as a JSON error with the
/// HTTP status a client should act on: its mistake (400), missing (404),
/// try again later (503), or ours (500).
struct ScaleKitErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ScaleKitError {
            context.logger.log(level: error.apiError.status.code >= 500 ? .error : .debug, "\(error)")
            throw error.apiError
        }
    }
}

extension ScaleKitError {
    /// The HTTP answer for this error. Messages are already free of
    /// passwords (ScaleKit redacts them).
    var apiError: APIError {
        let status: HTTPResponse.Status
        switch code {
        case .invalidArgument: status = .badRequest
        case .notFound: status = .notFound
        case .connectionFailed, .timeout, .poolExhausted, .poolShutDown, .cancelled: status = .serviceUnavailable
        default: status = .internalServerError
        }
        return APIError(status, code: code.description, message)
    }
}
