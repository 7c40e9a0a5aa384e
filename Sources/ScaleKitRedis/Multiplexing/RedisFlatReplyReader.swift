import CHiredis
import ScaleKit

/// hiredis's reply parser without its reply objects: the reader appends each
/// element to one buffer (`scalekit_flat_reader_create` in the CHiredis shim)
/// and a complete reply is read from there straight into a ``RedisValue``.
/// The check-and-count script's reply (an array of 13 integers) costs one
/// allocation this way instead of fifteen. Used by the loop's thread only.
final class RedisFlatReplyReader {
    private let buffer: UnsafeMutablePointer<scalekit_flat_reply>
    private var reader: UnsafeMutablePointer<redisReader>

    init() {
        buffer = .allocate(capacity: 1)
        buffer.initialize(to: scalekit_flat_reply())
        reader = scalekit_flat_reader_create(buffer)
    }

    deinit {
        redisReaderFree(reader)
        scalekit_flat_reply_free(buffer)
        buffer.deallocate()
    }

    /// Hands the parser bytes read from the socket; `false` when out of memory.
    func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        redisReaderFeed(reader, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count) == REDIS_OK
    }

    /// The next complete reply, `nil` when more bytes are needed.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `protocolError` for bytes that are not RESP.
    func next() throws(ScaleKitError) -> RedisValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            throw ScaleKitError(.protocolError, "the reply is not valid RESP", nativeCode: "REDIS_ERR_PROTOCOL")
        }
        guard raw != nil else { return nil }
        defer { buffer.pointee.length = 0 }
        var cursor = Cursor(base: UnsafeRawPointer(buffer.pointee.bytes), count: buffer.pointee.length)
        return cursor.value()
    }

    /// Starts over for a new connection: drops a half-read reply.
    func reset() {
        redisReaderFree(reader)
        buffer.pointee.length = 0
        reader = scalekit_flat_reader_create(buffer)
    }

    /// Reads the records the shim wrote: a type byte, then an 8-byte length
    /// and the bytes (string, status, error), the value (integer), the
    /// element count followed by the elements (array), or nothing (nil).
    private struct Cursor {
        let base: UnsafeRawPointer?
        let count: Int
        var offset = 0

        mutating func value() -> RedisValue {
            guard let base, offset < count else { return .null }
            let type = Int32(base.load(fromByteOffset: offset, as: UInt8.self))
            offset += 1
            switch type {
            case REDIS_REPLY_STRING, REDIS_REPLY_STATUS, REDIS_REPLY_ERROR:
                let length = Int(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                offset += 8
                let bytes = UnsafeRawBufferPointer(start: base + offset, count: length)
                offset += length
                switch type {
                case REDIS_REPLY_STRING: return .bulkString(Array(bytes))
                case REDIS_REPLY_STATUS: return .status(String(decoding: bytes, as: UTF8.self))
                default: return .error(RedisErrorReply(message: String(decoding: bytes, as: UTF8.self)))
                }
            case REDIS_REPLY_INTEGER:
                let value = base.loadUnaligned(fromByteOffset: offset, as: Int64.self)
                offset += 8
                return .integer(value)
            case REDIS_REPLY_ARRAY:
                let elements = Int(base.loadUnaligned(fromByteOffset: offset, as: Int64.self))
                offset += 8
                var values: [RedisValue] = []
                values.reserveCapacity(max(0, elements))
                for _ in 0..<max(0, elements) { values.append(value()) }
                return .array(values)
            default:
                return .null
            }
        }
    }
}
