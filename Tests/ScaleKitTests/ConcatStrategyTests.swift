@_spi(Benchmarks) import ScaleKit
import Testing

@Suite struct ConcatStrategyTests {
    @Test func everyStrategyGivesTheSameBytes() {
        var pieces: [[UInt8]] = [[], [1], [], [2, 3, 4]]
        for n in 0..<200 { pieces.append((0..<(n * 7 % 301)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) }) }
        let expected = pieces.flatMap { $0 }
        for strategy in ConcatStrategy.allCases {
            #expect(concatenate(pieces, strategy: strategy) == expected, "\(strategy)")
        }
    }

    @Test func emptyInputGivesEmptyOutput() {
        for strategy in ConcatStrategy.allCases {
            #expect(concatenate([], strategy: strategy).isEmpty)
            #expect(concatenate([[], []], strategy: strategy).isEmpty)
        }
    }
}
