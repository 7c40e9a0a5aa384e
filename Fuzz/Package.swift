// swift-tools-version: 6.1
// libFuzzer targets, in a package of their own because they are built with
// -sanitize=fuzzer (libFuzzer supplies `main`). Run them with scripts/fuzz.sh.
import PackageDescription

let fuzzDependencies: [Target.Dependency] = [.product(name: "ScaleKit", package: "ScaleKit"), "FuzzSupport"]

let package = Package(
    name: "ScaleKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ScaleKit", path: "../")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"]),
        .executableTarget(
            name: "FuzzYouTubeURL", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzConfiguration", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzMergePatch", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzTimeline", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzTrackerFile", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzWAVReader", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzNumericOptions", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzAudioDecoder",
            dependencies: fuzzDependencies + [.product(name: "ScaleKitAudio", package: "ScaleKit")]),
    ]
)
