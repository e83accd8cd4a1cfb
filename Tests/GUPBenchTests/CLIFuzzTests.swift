import Foundation
import Testing
@testable import GUPBench

/// A seeded fuzz of the command line: a few hundred invocations of the built executable with
/// small sizes, most of them carrying at least one bad value. No crash, no hang (each
/// invocation has a deadline), exit codes in {0, 1, 2} of the right class, and every error
/// exactly one line that names the option and the value it refuses.
@Suite struct CLIFuzzTests {
    /// One option: values that are fine, values that can never be valid (exit 2), values this
    /// machine lacks (exit 1).
    struct Knob {
        let option: String
        let good: [String]
        let usage: [String]
        var lacking: [String] = []
    }

    /// A value the fuzzer chose, and what it expects of it.
    struct Pick {
        enum Kind { case good, usage, lacking }
        let option: String
        let value: String
        let kind: Kind
    }

    static let topology = Topology.read()
    static var cpus: Int { topology.node(topology.localNode)?.cpus.count ?? 1 }
    static var hugetlbFree: Bool { topology.hugePagesFree >= 2 }
    static var absentNode: String { String((topology.nodes.map(\.id).max() ?? 0) + 1) }

    static let matrixKnobs: [Knob] = [
        Knob(option: "--size", good: ["2MiB", "4MiB"], usage: ["0", "-5MiB", "5000", "lots", "2MiB,2MiB", "3MiB,"],
             lacking: ["64TiB"]),
        Knob(option: "--backing", good: ["4k", "thp", "4k,thp"], usage: ["2m", "4k,4k", "thp,"],
             lacking: hugetlbFree ? [] : ["hugetlb"]),
        Knob(option: "--threads", good: cpus > 1 ? ["1", "2"] : ["1"], usage: ["0", "-1", "x", "1,1"],
             lacking: ["\(cpus + 1)"]),
        Knob(option: "--repetitions", good: ["1", "2"], usage: ["0", "-1", "1,2", "many"]),
        Knob(option: "--warmup", good: ["0", "1"], usage: ["-1", "x", "0,1"]),
        Knob(option: "--strategies", good: ["unpin-each", "put-page,unpin-range"], usage: ["unpin-all", "unpin-each,unpin-each"]),
        Knob(option: "--impl", good: ["swift", "c", "swift,c"], usage: ["rust"]),
        Knob(option: "--dirty", good: ["none", "dirty-lock"], usage: ["filthy"]),
        Knob(option: "--sharing", good: ["disjoint", "interleaved"], usage: ["shared"]),
        Knob(option: "--layout", good: ["sequential", "shuffled"], usage: ["random"]),
        Knob(option: "--batch", good: ["1", "64"], usage: ["0", "-3"]),
        Knob(option: "--folio-order", good: ["0", "9"], usage: ["19", "-1"]),
        Knob(option: "--detect", good: ["off", "audit"], usage: ["paranoid"]),
        Knob(option: "--mem-node", good: [String(topology.localNode)], usage: ["-1", "x", "4096"], lacking: [absentNode]),
        Knob(option: "--cpu-node", good: [String(topology.localNode)], usage: ["-2", "y"], lacking: [absentNode]),
        Knob(option: "--format", good: ["table", "json", "csv", "markdown"], usage: ["yaml"]),
    ]

    /// The options each command takes, and what it must be given to stay small and quick.
    static let commands: [(name: String, knobs: [Knob], quick: [String: String])] = {
        let quick = ["--size": "2MiB", "--threads": "1", "--repetitions": "1", "--warmup": "0",
                     "--backing": "4k", "--strategies": "unpin-each"]
        let short = ["--format", "--size", "--backing", "--repetitions", "--warmup"]
        func only(_ names: [String]) -> [Knob] { matrixKnobs.filter { names.contains($0.option) } }
        let tableJSON = Knob(option: "--format", good: ["table", "json"], usage: ["csv", "yaml"])
        return [
            ("compare", matrixKnobs, quick),
            ("run", matrixKnobs, quick),
            ("sweep", matrixKnobs.filter { $0.option != "--size" }
                + [Knob(option: "--values", good: ["2MiB,4MiB"], usage: ["2MiB,2MiB", "-1MiB", "2MiB,,4MiB"])],
             quick.merging(["--param": "size", "--values": "2MiB,4MiB"]) { a, _ in a }.filter { $0.key != "--size" }),
            ("misuse", only(short).map { $0.option == "--format" ? tableJSON : $0 }
                + [Knob(option: "--detect", good: ["off,audit"], usage: ["paranoid", "off,off"])],
             ["--size": "2MiB", "--repetitions": "1", "--warmup": "0", "--backing": "4k", "--detect": "off,audit"]),
            ("kernel", only(short).map { $0.option == "--format" ? tableJSON : $0 },
             ["--size": "2MiB", "--repetitions": "1", "--warmup": "0", "--backing": "4k"]),
            ("calibrate", [tableJSON] + only(["--mem-node", "--cpu-node"]), [:]),
            ("topology", [tableJSON], [:]),
        ]
    }()

    /// One invocation: the command, 1-3 chosen options (most with a bad value), the quick
    /// defaults for the rest; `--opt value` or `--opt=value` at random.
    static func invocation(_ rng: inout SplitMix64) -> (args: [String], picks: [Pick]) {
        let command = commands[Int(rng.next() % UInt64(commands.count))]
        var picks: [Pick] = []
        let count = 1 + Int(rng.next() % 3)
        for knob in command.knobs.shuffled(using: &rng).prefix(count) {
            let roll = rng.next() % 100
            if roll < 55, !knob.usage.isEmpty {
                picks.append(Pick(option: knob.option, value: knob.usage.randomElement(using: &rng)!, kind: .usage))
            } else if roll < 70, !knob.lacking.isEmpty {
                picks.append(Pick(option: knob.option, value: knob.lacking.randomElement(using: &rng)!, kind: .lacking))
            } else {
                picks.append(Pick(option: knob.option, value: knob.good.randomElement(using: &rng)!, kind: .good))
            }
        }
        var args = [command.name]
        // Keep runs small: the quick value for every option the fuzzer did not choose.
        for (option, value) in command.quick.sorted(by: { $0.key < $1.key }) where !picks.contains(where: { $0.option == option }) {
            args += [option, value]
        }
        for p in picks {
            args += rng.next() % 2 == 0 ? [p.option, p.value] : ["\(p.option)=\(p.value)"]
        }
        return (args, picks)
    }

    @Test("300 seeded invocations: no crash, no hang, one line naming the value, the right exit class",
          .timeLimit(.minutes(10)))
    func seededFuzz() throws {
        var rng = SplitMix64(seed: 0x6775_7062_656E_6368)
        var valid = 0, usage = 0, lacking = 0, measured = 0
        // The invocations first, from the seed alone; then run, three at a time.
        var plan: [(args: [String], picks: [Pick])] = []
        while plan.count < 300 {
            let (args, picks) = Self.invocation(&rng)
            // A valid invocation measures (seconds, with calibration); a bad one is refused in
            // milliseconds. Six measuring ones keep the whole fuzz within a minute.
            let measures = args[0] != "topology" && picks.allSatisfy { $0.kind == .good }
            if measures && measured >= 6 { continue }
            if measures { measured += 1 }
            plan.append((args, picks))
        }
        final class Outcomes: @unchecked Sendable {
            let lock = NSLock()
            var byIndex: [Int: Result<Spawned, Error>] = [:]
        }
        let outcomes = Outcomes()
        let binary = CLITests.executable.path
        let invocations = plan.map(\.args)
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            for i in stride(from: worker, to: invocations.count, by: 3) {
                let r = Result { try Spawn.run(binary, invocations[i], timeout: 120) }
                outcomes.lock.withLock { outcomes.byIndex[i] = r }
            }
        }
        for (n, (args, picks)) in plan.enumerated() {
            let label = "#\(n): gupbench \(args.joined(separator: " "))"
            let r = try outcomes.byIndex[n]!.get()
            #expect(!r.timedOut, "\(label): no exit within 120 s")
            #expect(r.signal == nil, "\(label): ended by signal \(r.signal ?? 0): \(r.stderr)")
            guard let status = r.status, !r.timedOut else { continue }
            #expect([0, 1, 2].contains(status), "\(label): exit \(status)")
            let bad = picks.filter { $0.kind == .usage }
            let missing = picks.filter { $0.kind == .lacking }
            if status != 0 {
                #expect(r.stderrLines.count == 1, "\(label): stderr \(r.stderr)")
                #expect(r.stderr.hasPrefix("gupbench: "), "\(label): stderr \(r.stderr)")
                let named = (bad.isEmpty ? missing : bad).contains { p in
                    r.stderr.contains(p.option) && r.stderr.contains(p.value.split(separator: ",").first.map(String.init) ?? p.value)
                }
                #expect(named, "\(label): the error names none of \((bad.isEmpty ? missing : bad).map { "\($0.option) \($0.value)" }): \(r.stderr)")
            }
            if !bad.isEmpty {
                usage += 1
                #expect(status == 2, "\(label): a value that can never be valid must exit 2: \(r.stderr)")
            } else if !missing.isEmpty {
                lacking += 1
                #expect(status == 1, "\(label): what this machine lacks must exit 1: \(r.stderr)")
            } else {
                valid += 1
                // The kernel probe may find another process pinning at the same time (exit 1).
                let othersPinning = args[0] == "kernel" && r.stderr.contains("other pinning during the run")
                #expect(status == 0 || othersPinning, "\(label): exit \(status): \(r.stderr)")
                if status == 0 { #expect(!r.stdout.isEmpty, "\(label): no report") }
            }
        }
        // The seed covers all three kinds.
        #expect(measured == 6 && valid > 6 && usage > 100 && lacking > 10, "valid \(valid), usage \(usage), lacking \(lacking)")
    }
}
