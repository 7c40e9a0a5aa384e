import Foundation
@testable import ScaleKit
import Testing

/// ScaleKit reads and writes JSON documents without `Codable`
/// (`JSONParser`, `JSONWriter`). Foundation's coders are the reference: the
/// same documents accepted and refused, the same values read, the same
/// bytes written, on hand-picked edge cases and on thousands of generated
/// and mutated documents.
struct JSONCodecTests {
    private static func foundationDecode(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    private static func foundationEncode(_ value: JSONValue) -> [UInt8]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { [UInt8]($0) }
    }

    private static func decode(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONValue.decode(Data(bytes), limits: JSONValue.Limits(maximumDepth: 64, maximumBytes: 1 << 20))
    }

    /// Where Foundation departs from RFC 8259 and ScaleKit does not follow:
    /// a raw NUL byte is refused here (Foundation reads `6` then NUL as 6,
    /// and NUL, `""`, NUL as an empty string), and a number `0e5` or `0E5`
    /// (an unsigned zero, then an exponent without a sign) is read here
    /// (Foundation refuses it, though it reads `0E+5`, `-0E5` and `1E5`).
    static func isFoundationQuirk(_ bytes: [UInt8]) -> Bool {
        if bytes.contains(0) { return true }
        let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        for index in bytes.indices.dropLast(2) where bytes[index] == UInt8(ascii: "0") {
            let before = index > 0 ? bytes[index - 1] : UInt8(ascii: " ")
            if !isDigit(before), before != UInt8(ascii: "."), before != UInt8(ascii: "-"),
                bytes[index + 1] == UInt8(ascii: "e") || bytes[index + 1] == UInt8(ascii: "E"), isDigit(bytes[index + 2])
            {
                return true
            }
        }
        return false
    }

    /// Both accept with the same value, or both refuse.
    private static func expectSameReading(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        if isFoundationQuirk(bytes) { return }
        let ours = decode(bytes), reference = foundationDecode(bytes)
        #expect(
            ours == reference, "\(String(decoding: bytes, as: UTF8.self).debugDescription): \(String(describing: ours)) vs \(String(describing: reference))",
            sourceLocation: sourceLocation)
    }

    @Test func edgeCasesReadAsFoundationReadsThem() {
        let inputs = [
            " 1 ", "01", "-0", "-01", "1.", ".5", "+1", "1e5", "1E+5", "1e-5", "1e", "1e+", "-", "--1", "0.0e5", "1.5e3",
            "[1,]", "[1,,2]", "[,]", "{,}", "{\"a\":1,}", "{\"a\":1 , }", "[1 , 2]", "[ ]", "{ }", "[[[]]]", "{\"a\":{\"b\":[null]}}",
            "\"\\u00e9\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\uD834\\uDD1E\"", "\"\\u0000\"", "\"\\u00\"", "\"\\uZZZZ\"",
            "\"\u{1}\"", "\"\\x\"", "\"\u{7f}\"", "\"\\/\"", "\"a\"x", "\"unterminated", "\"\\", "\"a\\\"b\"",
            "tru", "nul", "true ", "false", "null", "truex", "NaN", "Infinity", "-Infinity",
            "[]", "{}", "\u{feff}1", "\u{feff}\u{feff}1", " \u{feff}1", "1 2", "{\"a\":1,\"a\":2}", "{\"a\" : [ ]}", "{1:2}", "{\"a\"}", "{\"a\":}",
            "1e400", "-1e400", "1e-400", "0e-400", "0.1e-400", "1e-324", "3e-324", "5e-324", "1.7976931348623157e308", "1.8e308",
            "123456789012345678901234567890", "9007199254740993", "-9007199254740993", "9007199254740992", "1234567890123456",
            "\t\n\r 3", "\u{0b}3", "", " ", "[", "]", "{", "}", ",", ":", "\"\"", "[\"a\",\"b\"]",
        ]
        for input in inputs { Self.expectSameReading(Array(input.utf8)) }
        Self.expectSameReading([0x22, 0xFF, 0x22])  // invalid UTF-8 in a string
        Self.expectSameReading([0x22, 0xC3, 0x22])  // truncated sequence
        Self.expectSameReading([0x22, 0xED, 0xA0, 0x80, 0x22])  // an encoded surrogate
    }

    /// Foundation's two quirks: ScaleKit reads these as RFC 8259 does.
    @Test func foundationsQuirksAreNotFollowed() throws {
        #expect(try JSONValue.decode(Data("0e5".utf8)) == .number(0))
        #expect(try JSONValue.decode(Data("[0E5]".utf8)) == .array([.number(0)]))
        #expect(throws: ScaleKitError.self) { try JSONValue.decode(Data([UInt8(ascii: "6"), 0])) }
        #expect(throws: ScaleKitError.self) { try JSONValue.decode(Data([0, UInt8(ascii: "6")])) }
        #expect(Self.isFoundationQuirk(Array("0e5".utf8)) && Self.isFoundationQuirk(Array("[1,0E5]".utf8)))
        #expect(!Self.isFoundationQuirk(Array("10e5".utf8)) && !Self.isFoundationQuirk(Array("-0e5".utf8)) && !Self.isFoundationQuirk(Array("0.0e5".utf8)))
    }

    @Test func generatedDocumentsAreWrittenAsFoundationWritesThemAndReadBack() throws {
        var random = SplitMix64(seed: 0x5CA1E)
        for _ in 0..<2_000 {
            let value = Self.randomValue(depth: 0, &random)
            let ours = value.encodedBytes()
            #expect(ours == Self.foundationEncode(value), "\(value)")
            #expect(Self.decode(ours) == value)
            #expect(Self.foundationDecode(ours) == value)
        }
    }

    @Test func mutatedDocumentsAreAcceptedAndRefusedAsFoundationDoes() {
        var random = SplitMix64(seed: 0xBADF00D)
        // No raw control bytes: Foundation does not check the strings it never
        // reads (the value of a repeated key), and reads some documents with
        // a NUL byte in them; the edge cases above cover control characters.
        let alphabet = Array("{}[],:\"\\ -+.eE0123456789tfnul/bu".utf8) + [0x7F, 0xC3, 0xA9, 0xFF]
        for _ in 0..<5_000 {
            var bytes = Self.randomValue(depth: 0, &random).encodedBytes()
            for _ in 0..<Int(random.next() % 3 + 1) where !bytes.isEmpty {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                }
            }
            Self.expectSameReading(bytes)
        }
    }

    @Test func aDocumentWithANonFiniteNumberIsWrittenAsNull() {
        #expect(JSONValue.object(["a": .number(.infinity)]).encodedBytes() == Array("null".utf8))
        #expect(JSONValue.array([.number(.nan)]).encoded() == Data("null".utf8))
    }

    @Test func aRefusedDocumentSaysWhereAndWhy() {
        let error = #expect(throws: ScaleKitError.self) { try JSONValue.decode(Data(#"{"a": tru}"#.utf8)) }
        #expect(error?.code == .corruptData)
        #expect(error?.message.contains("at byte 6") == true)
    }

    private static let tokens = [
        "", "a", "B", "status", "é", "ключ", "🎬", "with space", "quote\"", "back\\slash", "slash/", "tab\t", "line\n", "cr\r",
        "\u{0}", "\u{1}", "\u{8}", "\u{c}", "\u{1f}", "\u{7f}", "\u{2028}", "\u{feff}", "e\u{301}", "Z", "aa", "a\u{0}",
    ]

    private static let numbers: [Double] = [
        0, -0.0, 1, -1, 0.5, 0.1, -2.75, 1e15, 999_999_999_999_999, 1e16, 123_456_789_012_345, 9_007_199_254_740_992, 1e21, 1e-7, .leastNonzeroMagnitude,
        1.7976931348623157e308, 3.141592653589793, 100, 12_345_678, -1e15, 2.5e-5,
    ]

    private static func randomString(_ random: inout SplitMix64) -> String {
        (0..<Int(random.next() % 4)).map { _ in tokens[Int(random.next() % UInt64(tokens.count))] }.joined()
    }

    private static func randomValue(depth: Int, _ random: inout SplitMix64) -> JSONValue {
        switch random.next() % (depth >= 4 ? 4 : 6) {
        case 0: return random.next() % 4 == 0 ? .null : .bool(random.next() % 2 == 0)
        case 1:
            if random.next() % 2 == 0 { return .number(numbers[Int(random.next() % UInt64(numbers.count))]) }
            // Bit 62 clear: an exponent below 1, so any finite magnitude under 2, subnormals included.
            return .number(Double(bitPattern: random.next() & 0xBFFF_FFFF_FFFF_FFFF))
        case 2: return .number(Double(Int64(bitPattern: random.next()) % 1_000_000_000) / [1, 10, 1000][Int(random.next() % 3)])
        case 3: return .string(randomString(&random))
        case 4: return .array((0..<Int(random.next() % 4)).map { _ in randomValue(depth: depth + 1, &random) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int(random.next() % 5) { members[randomString(&random)] = randomValue(depth: depth + 1, &random) }
            return .object(members)
        }
    }
}

/// A seeded generator, so every run checks the same documents.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
