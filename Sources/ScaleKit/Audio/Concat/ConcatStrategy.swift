/// Ways to join byte buffers end to end, kept side by side so tests and
/// benchmarks can show why the quadratic one must go.
@_spi(Benchmarks) public enum ConcatStrategy: String, Sendable, CaseIterable {
    /// `result = result + piece` for every piece: each step copies everything
    /// so far, O(n²) bytes copied (the seed's `all_bytes += piece.raw_data`).
    case repeatedCopy
    /// `result.append(contentsOf: piece)` with no reservation: amortised O(n),
    /// with a few reallocation copies as the array grows geometrically.
    case appendWithoutReserving
    /// Reserve the total once, then append: O(n), one allocation.
    case reserveThenAppend
    /// Allocate the total once and copy each piece to its offset with
    /// `memcpy`-like bulk copies: O(n), one allocation, no per-append checks.
    case preallocatedCopy
}

/// Joins `pieces` end to end with `strategy`. Every strategy returns the same bytes.
@_spi(Benchmarks) public func concatenate(_ pieces: [[UInt8]], strategy: ConcatStrategy) -> [UInt8] {
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

/// `a + b` as a fresh array: kept out of line so the optimiser cannot turn
/// the quadratic strategy into an in-place append.
@inline(never)
private func quadraticAppend(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
    a + b
}
