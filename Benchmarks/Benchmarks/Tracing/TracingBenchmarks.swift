import Benchmark
import ScaleKit
import Tracing

// What a plain `withSpan` costs when no tracer is installed (the process
// never calls InstrumentationSystem.bootstrap): two allocations and about a
// microsecond and a half per call, measurable next to the cheapest real
// operation. That is why ScaleKit's own spans (ScaleKitSpan.run) start no span
// at all and build no attributes when the tracer is the no-op one; the pool
// benchmarks, whose waiting checkouts run through that path, keep their
// exact malloc counts (Thresholds/PoolBenchmarks.*).
//
// `inMemoryCheckAndCount` is the cheapest real operation ScaleKit has (no
// I/O); `…InANoOpSpan` wraps each call in a span with two attributes.

let operationsPerIteration = 10_240

var tracingConfiguration: Benchmark.Configuration {
    .init(metrics: [.wallClock, .mallocCountTotal], warmupIterations: 2, maxDuration: .seconds(3), maxIterations: 200)
}

@inline(never) func work(_ value: Int) async -> Int { value &+ 1 }

let benchmarks: @Sendable () -> Void = {
    Benchmark("asyncCall.noSpan.ops=\(operationsPerIteration)", configuration: tracingConfiguration) { _ in
        var total = 0
        for index in 0..<operationsPerIteration { total &+= await work(index) }
        blackHole(total)
    }

    Benchmark("asyncCall.inANoOpSpan.ops=\(operationsPerIteration)", configuration: tracingConfiguration) { _ in
        var total = 0
        for index in 0..<operationsPerIteration {
            total &+= await withSpan("benchmark.operation", ofKind: .client) { span in
                span.attributes["db.system"] = "redis"
                span.attributes["scalekit.api.allowed"] = true
                return await work(index)
            }
        }
        blackHole(total)
    }

    Benchmark("inMemoryCheckAndCount.noSpan.ops=\(operationsPerIteration)", configuration: tracingConfiguration) { _ in
        let tracker = InMemoryAPITracker(configuration: APITrackerConfiguration(limits: APILimits(daily: 1 << 40, hourly: 1 << 40)))
        for _ in 0..<operationsPerIteration { blackHole(try await tracker.checkAndCount()) }
    }

    Benchmark("inMemoryCheckAndCount.inANoOpSpan.ops=\(operationsPerIteration)", configuration: tracingConfiguration) { _ in
        let tracker = InMemoryAPITracker(configuration: APITrackerConfiguration(limits: APILimits(daily: 1 << 40, hourly: 1 << 40)))
        for _ in 0..<operationsPerIteration {
            let decision = try await withSpan("api_tracker.check_and_count", ofKind: .client) { span in
                span.attributes["db.system"] = "redis"
                let decision = try await tracker.checkAndCount()
                span.attributes["scalekit.api.allowed"] = decision.isAllowed
                return decision
            }
            blackHole(decision)
        }
    }
}
