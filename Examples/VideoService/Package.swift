// swift-tools-version: 6.2
import PackageDescription

/// The same settings as the ScaleKit package: Swift 6 language mode plus the
/// upcoming features used everywhere.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "VideoService",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "video-service", targets: ["video-service"]),
    ],
    dependencies: [
        .package(name: "ScaleKit", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        // OTLP over HTTP only: the gRPC exporter would add grpc-swift to the build for nothing.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // The service as a library, so the tests drive its routes and jobs.
        .target(
            name: "VideoService",
            dependencies: [
                .product(name: "ScaleKit", package: "ScaleKit"),
                .product(name: "ScaleKitServices", package: "ScaleKit"),
                .product(name: "ScaleKitAudio", package: "ScaleKit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "video-service",
            dependencies: [
                "VideoService",
                .product(name: "ScaleKit", package: "ScaleKit"),
                .product(name: "ScaleKitServices", package: "ScaleKit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "VideoServiceTests",
            dependencies: [
                "VideoService",
                .product(name: "ScaleKit", package: "ScaleKit"),
                .product(name: "ScaleKitTesting", package: "ScaleKit"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
