// swift-tools-version: 6.1
import PackageDescription

/// One list of settings for every target: Swift 6 language mode (from the
/// tools version) plus the upcoming features we want everywhere.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ScaleKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ScaleKit", targets: ["ScaleKit"]),
        .library(name: "ScaleKitTesting", targets: ["ScaleKitTesting"]),
        .library(name: "ScaleKitServices", targets: ["ScaleKitServices"]),
        .library(name: "ScaleKitPostgres", targets: ["ScaleKitPostgres"]),
        .library(name: "ScaleKitSQLite", targets: ["ScaleKitSQLite"]),
        .library(name: "ScaleKitAudio", targets: ["ScaleKitAudio"]),
        .library(name: "ScaleKitRedis", targets: ["ScaleKitRedis"]),
        .executable(name: "scalekit", targets: ["scalekit"]),
    ],
    // The server backends ScaleKitServices builds from the environment. Both
    // are on by default; a service that needs only the embedded backends
    // (SQLite, the file tracker) turns them off, and then needs neither
    // libhiredis nor libpq: `.package(url: …, from: "1.0.0", traits: [])`.
    traits: [
        .trait(name: "Redis", description: "ScaleKitServices builds the Redis trackers when REDIS_URL is set (links libhiredis)."),
        .trait(
            name: "PostgreSQL",
            description: "ScaleKitServices builds the PostgreSQL repository when DATABASE_URL is postgresql:// (links libpq)."),
        .default(enabledTraits: ["Redis", "PostgreSQL"]),
    ],
    dependencies: [
        // 1.16: `Logger.current`, the task-local logger the initialisers default to.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        // `swift package generate-documentation` (DocC); no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .target(
            name: "ScaleKit",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "ScaleKitPostgres",
            dependencies: [
                "ScaleKit", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScaleKitSQLite",
            dependencies: [
                "ScaleKit", "CSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScaleKitTesting",
            dependencies: ["ScaleKit"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScaleKitServices",
            dependencies: [
                "ScaleKit",
                .target(name: "ScaleKitPostgres", condition: .when(traits: ["PostgreSQL"])),
                .target(name: "ScaleKitRedis", condition: .when(traits: ["Redis"])),
                "ScaleKitSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswresample-dev", "libavutil-dev"])]
        ),
        .target(
            name: "ScaleKitAudio",
            dependencies: [
                "ScaleKit", "CFFmpeg",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CHiredis",
            // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM
            // drops with a warning; the header is found as <hiredis/hiredis.h>.
            providers: [.apt(["libhiredis-dev"])]
        ),
        // TLS for Redis (rediss://): the system's OpenSSL, which libpq already links.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "ScaleKitRedis",
            dependencies: [
                "ScaleKit",
                "CHiredis",
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "scalekit",
            dependencies: [
                "ScaleKit",
                "ScaleKitServices",
                "ScaleKitAudio",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets: servers from the test script,
        // temporary folders, and `scalekit` run as separate OS processes.
        .target(
            name: "ScaleKitTestSupport",
            dependencies: ["ScaleKit"],
            path: "Tests/Support",
            swiftSettings: swiftSettings
        ),
        // Unit tests: no server and no child process; they pass anywhere,
        // with nothing installed beyond the C libraries the package links.
        .testTarget(
            name: "ScaleKitTests",
            dependencies: [
                "ScaleKit", "ScaleKitTesting", "ScaleKitServices", "ScaleKitRedis", "ScaleKitSQLite", "ScaleKitTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Integration tests: the `scalekit` tool run as several OS processes,
        // and the servers the test script starts (redis-server, PostgreSQL,
        // PgBouncer); with SCALEKIT_REQUIRE_SERVERS=1 a missing server fails
        // them instead of skipping.
        .testTarget(
            name: "ScaleKitIntegrationTests",
            dependencies: [
                "ScaleKit", "ScaleKitTesting", "ScaleKitServices", "ScaleKitRedis", "ScaleKitPostgres", "ScaleKitSQLite", "CSQLite",
                "ScaleKitAudio", "ScaleKitTestSupport", "scalekit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScaleKitPostgresTests",
            dependencies: ["ScaleKitPostgres", "ScaleKit", "ScaleKitTesting", "ScaleKitTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScaleKitSQLiteTests",
            dependencies: ["ScaleKitSQLite", "ScaleKit", "ScaleKitTesting", "ScaleKitTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScaleKitAudioTests",
            dependencies: [
                "ScaleKit", "ScaleKitAudio", "ScaleKitTesting", "ScaleKitTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScaleKitRedisTests",
            dependencies: ["ScaleKitRedis", "ScaleKitTesting", "ScaleKitTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
