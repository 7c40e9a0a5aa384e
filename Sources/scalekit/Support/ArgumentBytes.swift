import Foundation
import ScaleKit

/// Where the command line's bytes enter the tool.
///
/// Swift's `CommandLine.arguments` (and so ArgumentParser) decodes each
/// argument with repair: invalid UTF-8 becomes U+FFFD, so `job\xff` and
/// `job\xc0` would both arrive as `job\u{FFFD}` and name one status. The
/// raw `argv` bytes are checked here, before anything is parsed, and an
/// argument that is not valid UTF-8 is refused (`invalidArgument`, exit 64).
enum ArgumentBytes {
    /// Throws ``ScaleKitError/Code/invalidArgument`` naming the first argument that is not valid UTF-8.
    static func validateUTF8() throws(ScaleKitError) {
        let argv = CommandLine.unsafeArgv
        for index in 1..<Int(CommandLine.argc) {
            guard let pointer = argv[index] else { continue }
            if String(validatingCString: pointer) == nil {
                let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer))
                let shown = bytes.prefix(64).map { (0x20..<0x7F).contains($0) && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }
                throw ScaleKitError(
                    .invalidArgument,
                    "argument \(index) (\"\(shown.joined())\") is not valid UTF-8; ids and options must be UTF-8 text")
            }
        }
    }
}

/// `text` shortened and with control characters escaped, for an error message.
func printableArgument(_ text: String) -> String {
    String(text.prefix(64).unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined())
}
