import Synchronization

/// Ids for counted calls (``QuotaReceipt/id``): unique, in the UUID text
/// layout, and cheap. Foundation's `UUID()` reads `/dev/urandom` on every
/// call (open, read, close: three system calls), which on the Redis tracker's
/// hot path cost more than formatting the whole command.
///
/// The first half is random per process, the second half a counter passed
/// through SplitMix64's finaliser (a bijection, so no two calls of one
/// process collide). Ids are not secrets: they only have to differ.
package enum ReceiptID {
    private static let processHalf: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)
    private static let salt: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()

    /// A fresh id: 32 lower-case hex digits as 8-4-4-4-12.
    package static func next() -> String {
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let high = processHalf, low = mix(count ^ salt)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 8 || index == 12 { text.append(UInt8(ascii: "-")) }
            text.append(hexDigit(high >> UInt64(shift)))
        }
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 0 || index == 4 { text.append(UInt8(ascii: "-")) }
            text.append(hexDigit(low >> UInt64(shift)))
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func hexDigit(_ value: UInt64) -> UInt8 {
        let nibble = UInt8(truncatingIfNeeded: value & 0xF)
        return nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// SplitMix64's finaliser: a bijection on 64-bit values that spreads every input bit.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
