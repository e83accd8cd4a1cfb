// swift-tools-version: 6.1
// package-benchmark suites for gupbench (`Benchmarks/`). A package of its own, beside
// the root one, so `swift build` and `swift test` of gupbench never compile package-benchmark
// and its dependencies. Run from the repository root:
//
//   swift package --package-path Benchmarks benchmark                 # run every suite
//   swift build --package-path Benchmarks --scratch-path .build-benchmarks   # build only (CI)
//
// package-benchmark wants its suites under a folder named Benchmarks/ of the package root, hence
// Benchmarks/Benchmarks/<Suite>/.
import PackageDescription

let package = Package(
    name: "gupbench-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // `name:` fixes the identity: a path dependency is otherwise named after its folder,
        // which differs between checkouts (a worktree, CI's clone).
        .package(name: "gupbench", path: ".."),
        // On Swift 6.3 the default traits would pull in swift-runtime-interposer (for ARC
        // statistics), which is not among the packages this project can resolve; the malloc
        // interposer alone gives the allocation counts these suites check.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1",
                 traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ReleaseStrategies",
            dependencies: [
                .product(name: "GUPBench", package: "gupbench"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ReleaseStrategies",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
