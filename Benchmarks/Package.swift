// swift-tools-version: 6.1
import PackageDescription

// A nested package so that users of the ScaleKit library never resolve the
// benchmark dependency: `swift package benchmark` is run from this folder.
//
// Each target under Benchmarks/<Name>/ is one benchmark executable; the
// BenchmarkPlugin generates its entry point. Thresholds for the regression
// check live in Thresholds/<Target>.<benchmark name>.p90.json.

/// The same settings as the main package's targets.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ScaleKitBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, so the product reference holds whatever the checkout folder is called.
        .package(name: "ScaleKit", path: "../"),
        // MallocInterposer gives the malloc counts without jemalloc.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
    ],
    targets: [
        // Batches of calls over tasks, and a Service kept running during a benchmark.
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Support",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConcatBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ScaleKit", package: "ScaleKit"),
            ],
            path: "Benchmarks/Concat",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PoolBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ScaleKit", package: "ScaleKit"),
            ],
            path: "Benchmarks/Pool",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
            .executableTarget(
            name: "ClaimBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ScaleKit", package: "ScaleKit"),
                .product(name: "ScaleKitPostgres", package: "ScaleKit"),
                .product(name: "ScaleKitSQLite", package: "ScaleKit"),
            ],
            path: "Benchmarks/Claims",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
            .executableTarget(
            name: "RedisBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ScaleKit", package: "ScaleKit"),
                .product(name: "ScaleKitRedis", package: "ScaleKit"),
            ],
            path: "Benchmarks/Redis",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "TracingBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ScaleKit", package: "ScaleKit"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Benchmarks/Tracing",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
