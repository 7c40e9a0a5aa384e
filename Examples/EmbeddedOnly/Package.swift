// swift-tools-version: 6.1
import PackageDescription

/// A service that uses only ScaleKit's embedded backends (SQLite, the file
/// tracker, in-memory statuses): its dependency on ScaleKit turns the server
/// traits off, so it builds and runs without libhiredis and libpq.
/// scripts/check-embedded-only.sh builds it and checks exactly that.
let package = Package(
    name: "EmbeddedOnly",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ScaleKit", path: "../..", traits: []),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "embedded-only",
            dependencies: [
                .product(name: "ScaleKit", package: "ScaleKit"),
                .product(name: "ScaleKitServices", package: "ScaleKit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("InternalImportsByDefault")]
        )
    ]
)
