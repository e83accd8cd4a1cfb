import Foundation
import Testing
@testable import GUPBench

/// The kernel paths `gupbench kernel` runs: what io_uring's path says of itself, the one
/// registry the command takes its paths from, and that a path plugs in by one conforming type.
@Suite("kernel paths: io_uring's, the registry, and a path plugged in", .serialized)
struct KernelPathTests {
    @Test("io_uring's path compares with io-uring-release, and per backing with unpin-each and unpin-range")
    func ioUringStrategies() {
        let path = KernelPaths.ioUring
        #expect(path.name == "io-uring")
        #expect(path.modelStrategy == .ioUringRelease)
        #expect(path.modelStrategy.rawValue == "io-uring-release")
        #expect(path.modelStrategy(for: .fourK) == .unpinEach)
        #expect(path.modelStrategy(for: .thp) == .unpinRange)
        #expect(path.modelStrategy(for: .hugetlb) == .unpinRange)
        #expect(path.modelStrategies.map(\.rawValue) == ["unpin-each", "unpin-range", "io-uring-release"])
    }

    @Test("the kernel command runs one path per entry of KernelPaths.all, in order; io-uring is the only one")
    func registry() {
        #expect(KernelPaths.all.map(\.name) == ["io-uring"])
        #expect(Set(KernelPaths.all.map(\.name)).count == KernelPaths.all.count)
        for lastRef in [false, true] {
            let runs = KernelRun.all(sizes: [4 << 20], backings: [.fourK, .thp], repetitions: 2, warmup: 0,
                                     minTimeNs: 0, mitigations: .retpoline, lastRef: lastRef)
            #expect(runs.map(\.path.name) == KernelPaths.all.map(\.name))
            #expect(runs.allSatisfy { $0.lastRef == lastRef })
        }
    }

    @Test("the model's matrix comes from the path: its loops plain, its own loop with --last-ref")
    func modelConfig() {
        var run = KernelRun(path: KernelPaths.ioUring, sizes: [4 << 20], backings: [.fourK, .thp], repetitions: 3,
                            warmup: 1, minTimeNs: 0, mitigations: .retpoline, lastRef: false)
        var config = run.modelConfig(size: 4 << 20)
        #expect(config.strategies.map(\.rawValue) == ["unpin-each", "unpin-range", "io-uring-release"])
        #expect(config.layouts == [.sequential, .shuffled])
        #expect(config.threads == [1] && !config.lastRef)
        run.lastRef = true
        config = run.modelConfig(size: 4 << 20)
        #expect(config.strategies.map(\.rawValue) == ["io-uring-release"])
        #expect(config.layouts == [.sequential] && config.lastRef)
    }

    /// A path that cannot be used and names its own calls: what a second path writes.
    struct Plugged: KernelPath {
        var name: String { "plugged" }
        var modelStrategy: Strategy { .unpinBatched }
        func modelStrategy(for backing: Backing) -> Strategy { .unpinEach }
        func unavailableReason() -> String? { "plugged: not on this machine" }
        func checkPinLimit(size: Int, backing: Backing) throws {}
        func judge(_ cycles: [PinCycle], pages: Int, exact: Bool, cpus: Int) -> VmstatProof { .ok }
        func judge(_ cycles: [LastRefCycle], pages: Int, exact: Bool, cpus: Int) -> LastRefProof { .ok }
        func makePinner() throws -> any KernelPinner { throw GUPBenchError.environment("unused") }
        var words: KernelPathWords {
            KernelPathWords(pinnedAs: "plugged pins", pin: "plug", release: "unplug", releaseNoun: "unplugging",
                            pinning: "plugging", releasing: "unplugging", calls: "pin = PLUG, unpin = UNPLUG",
                            releaseNote: "plugged note", sameLoop: "plug_release()", lastRefChain: "plug_put()")
        }
    }

    @Test("a path plugged in by one conforming type: its loops, its words, its refusal before anything is mapped")
    func pluggedPath() throws {
        let path = Plugged()
        #expect(path.modelStrategies.map(\.rawValue) == ["unpin-each", "unpin-batched"])
        let run = KernelRun(path: path, sizes: [4 << 20], backings: [.fourK], repetitions: 1, warmup: 0,
                            minTimeNs: 0, mitigations: .retpoline, lastRef: false)
        #expect(run.modelConfig(size: 4 << 20).strategies == [.unpinEach, .unpinBatched])
        #expect(throws: GUPBenchError.environment("plugged: not on this machine")) {
            try run.checkBeforeMapping(topology: Topology.read())
        }
        let report = Report(command: "kernel", topology: Topology.read(), calibration: nil)
        let table = KernelComparison(kernel: [], model: report, path: path).renderTable(model: report)
        #expect(table.contains("gupbench kernel: plugged pins, - per backing, 0 reps"))
        #expect(table.contains("pin = PLUG, unpin = UNPLUG"))
        #expect(table.contains("note: plugged note"))
        #expect(table.contains("same loop: the model's unpin-batched (plug_release())"))
        let lastRef = KernelLastRefComparison(kernel: [], reports: [:], path: path).renderTable()
        #expect(lastRef.hasPrefix("gupbench kernel --last-ref: plug as plugged pins, munmap, then unplug (timed)"))
        #expect(lastRef.contains("model = unpin-batched --last-ref (plug_put())"))
    }

    @Test("one verdict vocabulary for both runs: the plain and --last-ref proofs share their words")
    func proofWords() {
        #expect(LastRefProof.self == VmstatProof.self)
        #expect([VmstatProof.ok, .short, .otherPinning, .notFreed].map(\.word) == ["ok", "SHORT", "OTHERS", "NOT FREED"])
        #expect([VmstatProof.ok, .short, .otherPinning, .notFreed].map(\.rawValue)
                == ["ok", "short", "other-pinning", "not-freed"])
    }
}
