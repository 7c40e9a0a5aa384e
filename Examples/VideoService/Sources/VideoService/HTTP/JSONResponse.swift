import Foundation
import Hummingbird

/// Builds JSON responses with one encoder setup: sorted keys, snake_case
/// member names written out in each type's CodingKeys, ISO 8601 dates.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// An error answered as `{"error": "…", "code": "…"}` with an HTTP status.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONResponse.make(Body(error: message, code: code), status: status)
    }

    private struct Body: Encodable {
        var error: String
        var code: String
    }
}
