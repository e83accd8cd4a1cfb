import ArgumentParser
import Foundation
import GUPBench

/// `gupbench ab --baseline-binary OLD [-- compare options]`: two builds in alternating processes
/// (A B B A …), each A paired with its neighbouring B, judged per scenario on the pairs' ratios
/// (`Gate.init(pairs:…)`). Same formats and exit codes as `--baseline`.
struct ABCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ab",
        abstract: "Compare two builds in alternating processes (A B B A …): exit 3 if the candidate is slower beyond --threshold and noise, 4 if a scenario could not be judged.",
        discussion: """
            Each process runs `compare --format json --rounds 6` (unless --rounds is given) with the options after `--`. For example:

              gupbench ab --baseline-binary /tmp/old/gupbench -- --backing 4k --threads 1
            """)

    @Option(help: "The build to compare against (A): a gupbench executable.")
    var baselineBinary: String

    @Option(help: "The build under test (B; default: this gupbench).")
    var candidateBinary: String?

    @Option(help: "Pairs of processes (A B, then B A, …); each scenario is judged on one ratio per pair.")
    var pairs = 10

    @Option(help: "The least slowdown reported, as 5% or 0.05 (default: \(Fmt.percent(Alternation.defaultThreshold)): alternation takes out the drift a saved baseline's 10% allows for).")
    var threshold: String?

    @Option(help: "Keep every process's report and standard error in this directory (default: a temporary one, removed).")
    var keep: String?

    @OptionGroup var report: TableOrJSONOutput

    @Argument(parsing: .postTerminator, help: "Options for each process's `compare` (after --).")
    var compareOptions: [String] = []

    func validate() throws {
        guard (1...1000).contains(pairs) else { throw ValidationError("--pairs \(pairs) is out of range; valid: 1-1000") }
        do {
            _ = try threshold.map(Gate.parseThreshold)
            for (option, path) in [("--baseline-binary", baselineBinary), ("--candidate-binary", candidateBinary)] {
                if let path, !FileManager.default.isExecutableFile(atPath: path) {
                    throw GUPBenchError.usage("\(option) '\(path)' is not an executable file; give a built gupbench")
                }
            }
        } catch let e as GUPBenchError {
            throw ValidationError(e.description)
        }
        for banned in ["--format", "--output", "--baseline", "-h", "--help"] where compareOptions.contains(banned) {
            throw ValidationError("'\(banned)' after -- is not valid: ab sets each process's report format and file itself")
        }
    }

    func run() throws {
        let candidate = candidateBinary ?? Self.thisExecutable
        let dir = keep ?? NSTemporaryDirectory() + "gupbench-ab-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: dir) } }
        var sides: [(baseline: Gate.Side?, candidate: Gate.Side?)] = Array(repeating: (nil, nil), count: pairs)
        for (k, build) in Alternation.order(pairs: pairs).enumerated() {
            let pair = k / 2
            let name = "\(dir)/pair\(pair + 1)-\(build.rawValue)"
            let binary = build == .baseline ? baselineBinary : candidate
            progress("ab: pair \(pair + 1) of \(pairs), build \(build.rawValue)")
            let status = try ChildProcess.run(binary, ["compare", "--format", "json", "--output", name + ".json"]
                                                + Self.withDefaultRounds(compareOptions), stderrPath: name + ".stderr")
            guard status == 0 else {
                let why = (try? String(contentsOfFile: name + ".stderr", encoding: .utf8))?
                    .split(separator: "\n").last.map(String.init) ?? ""
                throw GUPBenchError.environment("ab: build \(build.rawValue) (\(binary)) exited \(status) in pair \(pair + 1): \(why)")
            }
            let side = try Gate.load(name + ".json", option: "ab: build \(build.rawValue)")
            if build == .baseline { sides[pair].baseline = side } else { sides[pair].candidate = side }
        }
        let verdicts = try Gate(pairs: sides.map { ($0.baseline!, $0.candidate!) },
                                baselineName: "build \(baselineBinary)",
                                threshold: threshold.map(Gate.parseThreshold) ?? Alternation.defaultThreshold)
        try report.emit(verdicts.output)
        try exitOnOutcome(verdicts)
    }

    /// Rounds per process unless the options say: each round maps a fresh region and starts a
    /// fresh thread, so 6 rounds give a process 6 draws of the machine's state to find its fast
    /// samples in (`Gate.processTime`); with 3 a real 20% slowdown was flagged in 4 of 10 runs
    /// of 10 pairs on the AMD EPYC host (docs/gate.md).
    static let defaultRounds = 6

    static func withDefaultRounds(_ options: [String]) -> [String] {
        options.contains { $0 == "--rounds" || $0.hasPrefix("--rounds=") } ? options
            : options + ["--rounds", String(defaultRounds)]
    }

    /// This process's own executable, so that B defaults to the build that runs `ab`.
    static var thisExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private func progress(_ line: String) {
        FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
    }
}
