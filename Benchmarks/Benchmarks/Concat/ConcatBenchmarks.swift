// Joining n pieces of 8 820 bytes (100 ms of 16-bit mono at 44.1 kHz): the
// O(n²) `a = a + piece` against the three O(n) strategies and a single memcpy
// of the same total bytes into a new buffer (the physical limit). The
// strategies are the core's `concatenate(_:strategy:)`.

import Benchmark
import Foundation
@_spi(Benchmarks) import ScaleKit

/// 100 ms of 16-bit mono PCM at 44.1 kHz.
let pieceBytes = 8_820

/// Piece counts measured for every strategy.
let pieceCounts = [10, 100, 1_000, 10_000]

/// The quadratic join copies b·n(n+1)/2 bytes: 4.4 GB at n = 1 000 (about a
/// second here) but 441 GB at n = 10 000 (minutes per iteration), so it is
/// measured only up to this many pieces.
let quadraticPieceCap = 1_000

/// n pieces; piece i holds the byte i % 251 so a misplaced piece is visible.
func makePieces(_ count: Int) -> [[UInt8]] {
    (0..<count).map { [UInt8](repeating: UInt8($0 % 251), count: pieceBytes) }
}

/// Checks once per benchmark that a strategy put every piece in order.
func verifyJoin(_ joined: [UInt8], count: Int) -> Bool {
    guard joined.count == count * pieceBytes else { return false }
    return (0..<count).allSatisfy {
        joined[$0 * pieceBytes] == UInt8($0 % 251) && joined[$0 * pieceBytes + pieceBytes - 1] == UInt8($0 % 251)
    }
}

/// The metrics every concat benchmark records, chosen explicitly: time and
/// how many allocations (one for reserve-then-append and the preallocated
/// copy, about log₂(total) for plain append, n for the quadratic join).
/// Peak resident memory is left out on purpose: its sampling thread allocates
/// while it runs, which would blur the exact malloc counts.
var concatMetrics: [BenchmarkMetric] { [.wallClock, .mallocCountTotal] }

/// Tolerances for `thresholds check`. Malloc counts are exact here, so one
/// extra allocation is a regression. Wall clock p90 on a shared 2-core VM
/// moves by up to 6x between runs, so its tolerance is wide (11x): it still
/// catches a join that turns quadratic (37x slower at 10 pieces, hundreds of
/// times at 1 000), not small drifts.
var concatThresholds: [BenchmarkMetric: BenchmarkThresholds] {
    [
        .wallClock: .init(relative: [.p90: 1_000.0]),
        .mallocCountTotal: .init(relative: [.p90: 0.0], absolute: [.p90: 0]),
    ]
}

func configuration(for count: Int, quadratic: Bool = false) -> Benchmark.Configuration {
    // Enough iterations for a stable p50/p90 without letting n = 10 000 or the
    // quadratic join dominate the run.
    let maxDuration: Duration = quadratic && count >= 1_000 ? .seconds(6) : .seconds(2)
    return .init(
        metrics: concatMetrics,
        warmupIterations: count >= 1_000 ? 1 : 5,
        maxDuration: maxDuration,
        maxIterations: count >= 1_000 ? 50 : 2_000,
        thresholds: concatThresholds
    )
}

/// Benchmark names carry no spaces or slashes: ordo-one/benchmark writes
/// threshold files with those replaced but reads them back by the plain name.
func benchmarkName(_ strategy: String, count: Int) -> String {
    "\(strategy).n=\(count)"
}

let benchmarks: @Sendable () -> Void = {
    for count in pieceCounts {
        for strategy in ConcatStrategy.allCases {
            let isQuadratic = strategy == .repeatedCopy
            if isQuadratic && count > quadraticPieceCap { continue }
            Benchmark(
                benchmarkName(strategy.rawValue, count: count),
                configuration: configuration(for: count, quadratic: isQuadratic)
            ) { benchmark, pieces in
                for _ in benchmark.scaledIterations {
                    blackHole(concatenate(pieces, strategy: strategy))
                }
            } setup: {
                let pieces = makePieces(count)
                precondition(
                    verifyJoin(concatenate(pieces, strategy: strategy), count: count),
                    "\(strategy) joined \(count) pieces wrongly")
                return pieces
            }
        }

        // The physical limit: the same total bytes, already contiguous, copied
        // by one memcpy into a freshly allocated buffer (the same page faults
        // the strategies pay for their result).
        Benchmark(benchmarkName("memcpyOfTheTotal", count: count), configuration: configuration(for: count)) { benchmark, source in
            for _ in benchmark.scaledIterations {
                let copy = [UInt8](unsafeUninitializedCapacity: source.count) { buffer, initialized in
                    source.withUnsafeBufferPointer { from in
                        if let destination = buffer.baseAddress, let base = from.baseAddress {
                            memcpy(destination, base, from.count)
                        }
                    }
                    initialized = source.count
                }
                blackHole(copy)
            }
        } setup: {
            makePieces(count).flatMap { $0 }
        }
    }
}
