import Foundation

/// Finds the first number in a JSON document that no `Double` can hold
/// (`1e400`), with the path of the member that holds it.
///
/// Foundation's decoders refuse such a document as "not valid JSON" with no
/// path; this scan runs only after a decode failed, so the error can say
/// which field was out of range. It assumes nothing about validity: on
/// malformed input it stops and returns `nil`.
enum JSONNumberScan {
    /// The out-of-range number's path (`.clips[0].start`, `top level`) and literal, or `nil`.
    static func firstOutOfRangeNumber(in data: Data) -> (path: String, literal: String)? {
        enum Container {
            case object(key: String?)
            case array(index: Int)
        }
        var stack: [Container] = []
        var expectingKey = false
        let bytes = [UInt8](data)
        var i = 0
        func path() -> String {
            let text = stack.map { item -> String in
                switch item {
                case .object(let key): return key.map { ".\($0)" } ?? ""
                case .array(let index): return "[\(index)]"
                }
            }.joined()
            return text.isEmpty ? "top level" : text
        }
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "{"):
                stack.append(.object(key: nil))
                expectingKey = true
                i += 1
            case UInt8(ascii: "["):
                stack.append(.array(index: 0))
                expectingKey = false
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                i += 1
            case UInt8(ascii: ","):
                if case .array(let index)? = stack.last {
                    stack[stack.count - 1] = .array(index: index + 1)
                } else {
                    expectingKey = true
                }
                i += 1
            case UInt8(ascii: "\""):
                var end = i + 1
                var escaped = false
                while end < bytes.count {
                    if escaped { escaped = false } else if bytes[end] == UInt8(ascii: "\\") { escaped = true } else if bytes[end] == UInt8(ascii: "\"") { break }
                    end += 1
                }
                guard end < bytes.count else { return nil }
                if expectingKey, case .object? = stack.last {
                    let key = String(decoding: bytes[(i + 1)..<end], as: UTF8.self)
                    stack[stack.count - 1] = .object(key: key)
                    expectingKey = false
                }
                i = end + 1
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var end = i
                while end < bytes.count, "+-.eE0123456789".utf8.contains(bytes[end]) { end += 1 }
                let literal = String(decoding: bytes[i..<end], as: UTF8.self)
                if let value = Double(literal), !value.isFinite { return (path(), literal) }
                i = end
            default:
                i += 1
            }
        }
        return nil
    }

    /// "the number 1e400 at .a is out of range …", or `nil` when the document has no such number.
    static func describeOutOfRangeNumber(in data: Data) -> String? {
        firstOutOfRangeNumber(in: data).map {
            "the number \($0.literal.prefix(40)) at \($0.path) is out of range (a JSON number must be within ±1.8e308)"
        }
    }
}
