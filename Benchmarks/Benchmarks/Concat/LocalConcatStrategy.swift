// A stand-in for the core's `ConcatStrategy` / `concatenate(_:strategy:)`
// until they are available to build against; same names, same semantics.
// Delete this file when `import ScaleKit` provides them.

import Foundation

enum ConcatStrategy: String, Sendable, CaseIterable {
    /// `result = result + piece`: O(n²) bytes copied (the seed's `+=`).
    case repeatedCopy
    /// `append(contentsOf:)` without reserving: amortised O(n).
    case appendWithoutReserving
    /// Reserve the total once, then append: O(n), one allocation.
    case reserveThenAppend
    /// Allocate the total once and copy each piece to its offset.
    case preallocatedCopy
}

func concatenate(_ pieces: [[UInt8]], strategy: ConcatStrategy) -> [UInt8] {
    switch strategy {
    case .repeatedCopy:
        var result: [UInt8] = []
        for piece in pieces { result = quadraticAppend(result, piece) }
        return result
    case .appendWithoutReserving:
        var result: [UInt8] = []
        for piece in pieces { result.append(contentsOf: piece) }
        return result
    case .reserveThenAppend:
        var result: [UInt8] = []
        result.reserveCapacity(pieces.reduce(0) { $0 + $1.count })
        for piece in pieces { result.append(contentsOf: piece) }
        return result
    case .preallocatedCopy:
        let total = pieces.reduce(0) { $0 + $1.count }
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var offset = 0
            for piece in pieces {
                piece.withUnsafeBufferPointer { source in
                    guard let base = source.baseAddress, !source.isEmpty else { return }
                    (buffer.baseAddress! + offset).initialize(from: base, count: source.count)
                }
                offset += piece.count
            }
            initialized = total
        }
    }
}

/// Out of line so the optimiser cannot turn the quadratic join into an in-place append.
@inline(never)
private func quadraticAppend(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
    a + b
}
