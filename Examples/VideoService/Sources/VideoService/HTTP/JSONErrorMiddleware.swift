import Hummingbird
import ScaleKit

/// Answers every error a route throws as a JSON error. A ScaleKit error gets
/// the HTTP status a client should act on: its mistake (400), missing (404),
/// try again later (503), or ours (500); any other unexpected error is a 500
/// whose details stay in the log.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ScaleKitError {
            context.logger.log(level: error.apiError.status.code >= 500 ? .error : .debug, "\(error)")
            throw error.apiError
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            context.logger.error("unexpected error: \(error)")
            throw APIError(.internalServerError, code: "internal", "internal error")
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
        case .conflict: status = .conflict
        case .connectionFailed, .connectionClosed, .timeout, .poolExhausted, .poolShutDown, .cancelled:
            status = .serviceUnavailable
        default: status = .internalServerError
        }
        return APIError(status, code: code.description, message)
    }
}
