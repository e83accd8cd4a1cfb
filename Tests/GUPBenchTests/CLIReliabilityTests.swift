import Foundation
import Testing
@testable import GUPBench

/// The built executable under signals, resource edges and awkward --output paths.
@Suite(.serialized) struct CLIReliabilityTests {
    static var binary: String { CLITests.executable.path }

    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-cli-\(UUID().uuidString)-\(name)").path
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// A run that cannot finish on its own (100000 repetitions), signalled a moment after its
    /// release worker has started, i.e. while it is measuring.
    func interrupted(_ signal: Int32, format: String, output: String) throws -> Spawned {
        final class Seen: @unchecked Sendable { var at: Double? }
        let seen = Seen()
        let interrupt = Interrupt(signal: signal) { pid, elapsed in
            if seen.at == nil, Spawn.hasThread(pid, named: "gb-release-0") { seen.at = elapsed }
            // Never seen within a minute: signal anyway (the report is then partial and empty).
            return seen.at.map { elapsed > $0 + 0.3 } ?? (elapsed > 60)
        }
        let r = try Spawn.run(Self.binary, ["compare", "--size", "64MiB", "--backing", "4k", "--threads", "1",
                                            "--repetitions", "100000", "--warmup", "0", "--format", format,
                                            "--output", output],
                              timeout: 180, interrupt: interrupt)
        #expect(seen.at != nil, "no release worker seen; ran \(r.seconds) s")
        return r
    }

    @Test func sigintPrintsThePartialReportAndExits130() throws {
        let output = temporary("partial.json")
        defer { unlink(output) }
        let r = try interrupted(SIGINT, format: "json", output: output)
        #expect(!r.timedOut && r.signal == nil)
        #expect(r.status == 130, "stderr: \(r.stderr)")
        // 100000 repetitions: the run announces its estimate first.
        #expect(r.stderrLines.count == 2 && r.stderrLines[0].hasPrefix("gupbench: this run is estimated to take "))
        #expect(r.stderrLines.last == "gupbench: stopped by SIGINT; the report printed covers what completed")
        let report = try json(r.stdout)
        #expect(report["partial"] as? Bool == true)
        #expect((report["partial_reason"] as? String)?.contains("SIGINT") == true)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(!results.isEmpty)
        for result in results {
            let audit = try #require(result["audit"] as? [String: Any])
            #expect(audit["balanced"] as? Bool == true)   // stopped between repetitions: every pin released
            #expect(audit["pins_acquired"] as? Int == audit["pins_released"] as? Int)
            #expect((result["repetitions"] as? Int ?? 0) >= 1)
        }
        #expect(try String(contentsOfFile: output, encoding: .utf8) == r.stdout)
    }

    @Test func sigtermSaysPartialInTheTableAndExits143() throws {
        let output = temporary("partial.txt")
        defer { unlink(output) }
        let r = try interrupted(SIGTERM, format: "table", output: output)
        #expect(r.status == 143, "stderr: \(r.stderr)")
        #expect(r.stdout.hasPrefix("PARTIAL REPORT: stopped by SIGTERM"))
        // 100000 repetitions: the run announces its estimate first.
        #expect(r.stderrLines.count == 2 && r.stderrLines[0].hasPrefix("gupbench: this run is estimated to take "))
        #expect(r.stderrLines.last == "gupbench: stopped by SIGTERM; the report printed covers what completed")
        #expect(try String(contentsOfFile: output, encoding: .utf8) == r.stdout)
    }

    @Test func sizeBeyondMemAvailableIsRefusedBeforeMapping() throws {
        let available = MemoryBudget.read().availableBytes
        let size = Int((available >> 20) + 256)  // MiB: more than is available, less than MemTotal
        let r = try Spawn.run(Self.binary, ["compare", "--size", "\(size)MiB", "--backing", "4k", "--threads", "1"],
                              timeout: 60)
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderrLines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("gupbench: --size \(size)MiB --backing 4k needs "))
        #expect(r.stderr.contains("the largest --size that fits is "))
    }

    @Test(.disabled(if: underSanitizer, "a sanitizer's shadow memory is resident beside the run's, outside its budget"))
    func aRoundsRegionIsUnmappedBeforeTheNextIsMapped() throws {
        // Three rounds of 64 MiB: a run holding earlier rounds' regions would peak 128 MiB above
        // the prediction, which counts one region.
        let r = try Spawn.run(Self.binary, ["compare", "--size", "64MiB", "--backing", "4k", "--threads", "1",
                                            "--strategies", "unpin-each", "--repetitions", "3", "--rounds", "3",
                                            "--format", "json"], timeout: 120)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let peak = try #require(json["peak_rss_bytes"] as? Int)
        let predicted = try #require(json["predicted_peak_bytes"] as? Int)
        #expect(peak > 64 << 20)
        #expect(peak <= predicted)
        let phases = try #require(json["phases"] as? [String: Double])
        #expect(Set(phases.keys) == ["map", "verify", "calibrate", "measure"])
    }

    static let tiny = ["--size", "4MiB", "--backing", "4k", "--threads", "1", "--strategies", "unpin-each",
                       "--repetitions", "1", "--warmup", "0", "--format", "json"]

    @Test func outputThroughASymlinkLandsInItsTarget() throws {
        let target = temporary("target.json"), link = temporary("link.json")
        try "old\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        defer { unlink(link); unlink(target) }
        let r = try Spawn.run(Self.binary, ["compare"] + Self.tiny + ["--output", link], timeout: 120)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == r.stdout)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target)
    }

    @Test func outputToAFIFOOrDeviceIsRefusedAtOnce() throws {
        let fifo = temporary("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        for (path, kind) in [(fifo, "a FIFO"), ("/dev/null", "a device"), (NSTemporaryDirectory(), "a directory")] {
            for command in [["compare"], ["kernel"], ["misuse"]] {
                let r = try Spawn.run(Self.binary, command + ["--output", path], timeout: 30)
                #expect(!r.timedOut, "--output \(path) blocked")
                #expect(r.status == 2)
                #expect(r.stdout.isEmpty)
                #expect(r.stderrLines == ["gupbench: --output '\(path)' is \(kind)"
                    + (kind == "a FIFO" ? " (it would block until read, and a reader may never come)" : "")
                    + "; give a regular file (or /dev/stdout, /dev/stderr)"])
            }
        }
    }

    /// scripts/sanitize sets these: a sanitizer runtime has files of its own, which a file size
    /// limit breaks (ThreadSanitizer dies of SIGBUS under `ulimit -f 1`).
    static let underSanitizer = ["TSAN_OPTIONS", "ASAN_OPTIONS", "UBSAN_OPTIONS"].contains {
        ProcessInfo.processInfo.environment[$0] != nil
    }

    @Test(.disabled(if: underSanitizer, "a file size limit breaks the sanitizer runtime itself"))
    func outputThatFailsAfterMeasuringLeavesTheReportOnStdoutAndExits1() throws {
        let file = temporary("big.json")
        defer { unlink(file) }
        // A file size limit of 1 KiB with SIGXFSZ ignored: the write fails with EFBIG.
        let r = try Spawn.run("/bin/sh", ["-c", "ulimit -f 1; trap '' XFSZ; exec \"$0\" \"$@\"", Self.binary,
                                          "compare"] + Self.tiny + ["--output", file], timeout: 120)
        #expect(r.status == 1)
        #expect(r.stderrLines == ["gupbench: --output '\(file)' could not be written: EFBIG (File too large); "
            + "the report above on stdout is complete"])
        #expect(try json(r.stdout)["schema"] as? String == "gupbench/1")
    }

    @Test func outputCreatedForAFailedRunIsRemovedAgain() throws {
        let file = temporary("never.json")
        let r = try Spawn.run(Self.binary, ["compare", "--mem-node", "4095", "--output", file], timeout: 30)
        #expect(r.status == 1)
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    struct Corner: CustomTestStringConvertible, Sendable {
        let args: [String]
        let status: Int32
        let line: String
        var testDescription: String { args.joined(separator: " ") }
    }

    @Test(arguments: [
        Corner(args: ["compare", "--warmup", "-1"], status: 2, line: "--warmup -1 is out of range; valid: 0-100000"),
        Corner(args: ["compare", "--warmup=-1"], status: 2, line: "--warmup -1 is out of range; valid: 0-100000"),
        Corner(args: ["misuse", "--warmup=-1"], status: 2, line: "--warmup -1 is out of range; valid: 0-100000"),
        Corner(args: ["kernel", "--warmup", "-1"], status: 2, line: "--warmup -1 is out of range; valid: 0-100000"),
        Corner(args: ["kernel", "--size=-5MiB"], status: 2,
               line: "--size '-5MiB' must be greater than zero; use a positive number of bytes with an optional suffix KiB, MiB, GiB (e.g. 64MiB)"),
        Corner(args: ["misuse", "--size", "-5MiB"], status: 2,
               line: "--size '-5MiB' must be greater than zero; use a positive number of bytes with an optional suffix KiB, MiB, GiB (e.g. 64MiB)"),
        Corner(args: ["calibrate", "--cpu-node=-1"], status: 2, line: "--cpu-node -1 is out of range; valid: 0-4095"),
        Corner(args: ["run", "--cpu-node=-1"], status: 2, line: "--cpu-node -1 is out of range; valid: 0-4095"),
        Corner(args: ["calibrate", "--mem-node", "-2"], status: 2, line: "--mem-node -2 is out of range; valid: 0-4095"),
        Corner(args: ["calibrate", "--cpu-node", "4095"], status: 1, line: "--cpu-node 4095: no such NUMA node with CPUs on this machine; valid: "),
        Corner(args: ["kernel", "--backing", "4k,4k"], status: 2, line: "--backing '4k,4k' names '4k' twice; give each value once"),
        Corner(args: ["compare", "--strategies", "unpin-each,put-page,unpin-each"], status: 2,
               line: "--strategies 'unpin-each,put-page,unpin-each' names 'unpin-each' twice; give each value once"),
        Corner(args: ["sweep", "--param", "size", "--values", "2MiB,2MiB"], status: 2,
               line: "--values '2MiB,2MiB' names '2MiB' twice; give each value once"),
    ])
    func cornerIsOneLineWithItsExitClass(_ c: Corner) throws {
        let r = try Spawn.run(Self.binary, c.args + ["--repetitions", "1"].filter { _ in c.args[0] != "calibrate" },
                              timeout: 60)
        #expect(r.status == c.status, "stderr: \(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderrLines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("gupbench: " + c.line), "stderr: \(r.stderr)")
    }
}
