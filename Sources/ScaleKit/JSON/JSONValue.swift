public import Foundation

/// A JSON document, as stored by the status trackers.
///
/// Numbers are kept as `Double` (JSON's own model); objects keep no key order.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The dictionary of an object, or `nil`.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The string of a string value, or `nil`.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number of a number value, or `nil`.
    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// How deeply arrays and objects nest (a scalar is 0).
    public var depth: Int {
        switch self {
        case .array(let items): return 1 + (items.map(\.depth).max() ?? 0)
        case .object(let members): return 1 + (members.values.map(\.depth).max() ?? 0)
        default: return 0
        }
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// A JSON string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// A JSON number.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A JSON number (stored as a `Double`: exact up to 2^53).
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// A JSON boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A JSON array.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A JSON object; of repeated keys, the last wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    /// JSON `null`.
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// Limits that keep a hostile document from exhausting memory or stack.
    public struct Limits: Sendable, Hashable {
        /// The deepest nesting accepted (default 32).
        public var maximumDepth: Int
        /// The largest encoded size accepted, in bytes (default 1 MiB).
        public var maximumBytes: Int

        /// 32 levels and 1 MiB.
        public static let `default` = Limits(maximumDepth: 32, maximumBytes: 1 << 20)

        /// Limits of `maximumDepth` levels and `maximumBytes` bytes.
        public init(maximumDepth: Int, maximumBytes: Int) {
            self.maximumDepth = maximumDepth
            self.maximumBytes = maximumBytes
        }
    }

    /// Decodes a JSON document, refusing one over `limits` with a typed error.
    public static func decode(_ data: Data, limits: Limits = .default) throws(ScaleKitError) -> JSONValue {
        if data.count > limits.maximumBytes {
            throw ScaleKitError(
                .invalidArgument, "JSON document is \(data.count) bytes; the maximum is \(limits.maximumBytes)")
        }
        // Count nesting on the raw bytes first, so a hostile document cannot
        // recurse deeply inside the decoder.
        var depth = 0
        var inString = false
        var escaped = false
        for byte in data {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limits.maximumDepth {
                    throw ScaleKitError(
                        .invalidArgument, "JSON document nests deeper than \(limits.maximumDepth) levels")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        let parsed = data.withUnsafeBytes { raw -> Result<JSONValue, JSONParser.Failure> in
            let bytes = raw.bindMemory(to: UInt8.self)
            do throws(JSONParser.Failure) { return .success(try JSONParser.parse(bytes)) } catch { return .failure(error) }
        }
        switch parsed {
        case .success(let value):
            return value
        case .failure(let failure):
            if let problem = JSONNumberScan.describeOutOfRangeNumber(in: data) {
                throw ScaleKitError(.corruptData, "not a usable JSON document: \(problem)", underlying: failure)
            }
            throw ScaleKitError(.corruptData, "not a valid JSON document: \(failure.reason) at byte \(failure.offset)", underlying: failure)
        }
    }

    /// Encodes the document with sorted keys (stable output), as `JSONEncoder`
    /// with `.sortedKeys` and `.withoutEscapingSlashes` writes it.
    public func encoded() -> Data { Data(encodedBytes()) }

    /// ``encoded()`` as bytes. A document holding a non-finite number, which
    /// ``JSONValue/validate(limits:)`` refuses before storage, is written as
    /// `null` (`JSONEncoder` cannot write it at all).
    public func encodedBytes() -> [UInt8] {
        if containsNonFiniteNumber { return Array("null".utf8) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        JSONWriter.write(self, to: &bytes)
        return bytes
    }

    /// Throws ``ScaleKitError/Code/invalidArgument`` when the document is
    /// deeper or larger than `limits`, or holds a non-finite number.
    public func validate(limits: Limits = .default) throws(ScaleKitError) {
        if depth > limits.maximumDepth {
            throw ScaleKitError(.invalidArgument, "JSON document nests deeper than \(limits.maximumDepth) levels")
        }
        if containsNonFiniteNumber {
            throw ScaleKitError(.invalidArgument, "JSON cannot hold NaN or infinite numbers")
        }
        let size = encodedBytes().count
        if size > limits.maximumBytes {
            throw ScaleKitError(.invalidArgument, "JSON document is \(size) bytes; the maximum is \(limits.maximumBytes)")
        }
    }

    private var containsNonFiniteNumber: Bool {
        switch self {
        case .number(let value): return !value.isFinite
        case .array(let items): return items.contains { $0.containsNonFiniteNumber }
        case .object(let members): return members.values.contains { $0.containsNonFiniteNumber }
        default: return false
        }
    }
}
