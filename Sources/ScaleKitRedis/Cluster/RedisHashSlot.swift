/// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of
/// its hash tag (the text between the first `{` and the next `}` when that
/// is not empty), modulo 16 384. The trackers' keys carry hash tags, so every
/// key one script touches lies in one slot.
package enum RedisHashSlot {
    /// The number of slots in a Redis Cluster.
    package static let count = 16_384

    /// The slot `key` belongs to.
    package static func of(_ key: some Collection<UInt8>) -> Int {
        let bytes = Array(key)
        var hashed = bytes[...]
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
            let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            hashed = bytes[(open + 1)..<close]
        }
        return Int(crc16(hashed) & 0x3FFF)
    }

    /// The slot of a key given as text.
    package static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis's `crc16.c`.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}
