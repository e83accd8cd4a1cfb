// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "gupbench",
    platforms: [.macOS(.v13)],
    products: [
        // CShims too: GUPBench's public API speaks its types (gb_page, gb_tally), and the
        // benchmark package (Benchmarks/) takes pins with its primitives.
        .library(name: "GUPBench", targets: ["GUPBench", "CShims"]),
        .executable(name: "gupbench", targets: ["gupbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Real memory, libnuma placement, the page-descriptor model and the C reference loops.
        .target(
            name: "CShims",
            path: "CShims",
            linkerSettings: [.linkedLibrary("numa"), .linkedLibrary("pthread")]
        ),
        .target(
            name: "GUPBench",
            dependencies: ["CShims"]
        ),
        .executableTarget(
            name: "gupbench",
            dependencies: [
                "GUPBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "GUPBenchTests",
            // gupbench too: the CLI tests run the built executable.
            dependencies: ["GUPBench", "CShims", "gupbench"]
        ),
    ]
)
