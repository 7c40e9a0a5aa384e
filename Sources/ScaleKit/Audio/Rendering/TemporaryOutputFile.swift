import Foundation

/// A temporary path next to an output file, renamed over it on commit, so
/// readers see either the old file or the complete new one, never a part.
package struct TemporaryOutputFile: Sendable {
    /// Where the file ends up.
    package let finalPath: String
    /// Where it is written meanwhile (same folder, so the rename is atomic).
    package let temporaryPath: String

    /// - Throws: ``ScaleKitError/Code/audioEncoding`` when the output's folder does not exist.
    package init(finalPath: String) throws {
        let url = URL(fileURLWithPath: finalPath)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ScaleKitError(.audioEncoding, "cannot write \(finalPath): folder \(folder) does not exist")
        }
        self.finalPath = finalPath
        // `.NAME.partial-TOKEN.EXT`: hidden, unique, and keeping the extension muxers look at.
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let ext = url.pathExtension
        let stem = ext.isEmpty ? url.lastPathComponent : String(url.lastPathComponent.dropLast(ext.count + 1))
        temporaryPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(stem).partial-\(token)\(ext.isEmpty ? "" : "." + ext)").path
    }

    /// Renames the temporary file over the final path.
    /// - Throws: ``ScaleKitError/Code/audioEncoding`` naming the path.
    package func commit() throws {
        if rename(temporaryPath, finalPath) != 0 {
            let reason = String(cString: strerror(errno))
            discard()
            throw ScaleKitError(.audioEncoding, "cannot move the finished output to \(finalPath): \(reason)", nativeCode: "\(errno)")
        }
    }

    /// Removes the temporary file, if any.
    package func discard() {
        unlink(temporaryPath)
    }
}
