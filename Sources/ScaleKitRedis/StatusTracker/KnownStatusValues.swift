import ScaleKit

/// The status values a tracker last stored, by key: the compare-and-set
/// write merges into the remembered value and needs no `GET` first. A value
/// that is no longer stored only costs one more round trip (the script
/// returns the current one), so this is a hint, never the truth.
///
/// Bounded: at most ``capacity`` keys and values of at most
/// ``largestValue`` bytes (8 MB in all); past that a key is forgotten.
final class KnownStatusValues: Sendable {
    enum Stored: Sendable, Equatable {
        case absent
        case value([UInt8])
    }

    static let capacity = 512
    static let largestValue = 16 * 1024

    /// A remembered value: its bytes, and the document they hold (so a
    /// merge into it needs no decoding either).
    struct Entry: Sendable {
        let bytes: [UInt8]
        let document: JSONValue
    }

    private let values = SanitizerVisibleMutex<[String: Entry]>([:])

    func value(for key: String) -> Entry? {
        values.withLock { $0[key] }
    }

    func remember(_ bytes: [UInt8], document: JSONValue, for key: String) {
        guard bytes.count <= Self.largestValue else {
            forget(key)
            return
        }
        values.withLock { values in
            if values[key] == nil, values.count >= Self.capacity, let any = values.keys.first { values[any] = nil }
            values[key] = Entry(bytes: bytes, document: document)
        }
    }

    func forget(_ key: String) {
        _ = values.withLock { $0.removeValue(forKey: key) }
    }
}
