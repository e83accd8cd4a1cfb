import Foundation
import Testing

/// One scenario identity for every output: the baseline gate pairs each detection mode with its
/// own saved row, the CSV carries every identity key, and the JSON report lists the keys.
@Suite struct ScenarioIdentityTests {
    static let common = ["compare", "--size", "4MiB", "--backing", "4k", "--threads", "1",
                         "--strategies", "unpin-each", "--detect", "off,ledger", "--impl", "swift",
                         "--repetitions", "2", "--warmup", "0", "--min-time", "0"]

    @Test func baselineComparesEachDetectModeWithItsOwnRow() throws {
        let old = FileManager.default.temporaryDirectory.appendingPathComponent("gupbench-detect-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: old) }
        let first = try CLITests.run(Self.common + ["--format", "json", "--output", old.path])
        #expect(first.status == 0, "\(first.stderr)")
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: old)) as? [String: Any])
        let keys = try #require(saved["identity_keys"] as? [String])
        #expect(keys.contains("detect"))
        let results = try #require(saved["results"] as? [[String: Any]])
        var savedMedian: [String: Double] = [:]
        for r in results {
            let ns = try #require(r["ns_per_page"] as? [String: Any])
            savedMedian[try #require(r["detect"] as? String)] = (ns["median"] as? NSNumber)?.doubleValue
        }
        #expect(Set(savedMedian.keys) == ["off", "ledger"])

        let again = try CLITests.run(Self.common + ["--format", "json", "--baseline", old.path])
        // A verdict either way; 4 when a repetition's thread was descheduled on a busy machine.
        #expect([0, 3, 4].contains(again.status), "\(again.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        let baseline = try #require(json["baseline"] as? [String: Any])
        let entries = try #require(baseline["entries"] as? [[String: Any]])
        let unjudged = try #require(baseline["unjudged"] as? [[String: Any]])
        #expect(entries.count + unjudged.count == 2)  // each baseline scenario judged or listed
        for mode in ["off", "ledger"] {
            guard let entry = entries.first(where: { ($0["scenario"] as? String)?.contains("detect=\(mode) ") == true }),
                  let dropped = entry["dropped_repetitions"] as? [String: Any],
                  (dropped["before"] as? NSNumber)?.intValue == 0 else { continue }
            // The gate recomputes the median from the saved samples, which JSON rounds to 6
            // significant figures: equal to that precision, and far from the other mode's row.
            let before = try #require((entry["before_ns_per_page"] as? NSNumber)?.doubleValue)
            let expected = try #require(savedMedian[mode])
            #expect(abs(before - expected) <= expected * 1e-4, "\(mode): \(before) vs \(expected)")
        }
    }

    @Test func csvHasEveryIdentityKeyAndTheComparisons() throws {
        let r = try CLITests.run(Self.common + ["--format", "csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = try #require(lines.first)
        for key in ["kind", "strategy", "impl", "detect", "size_bytes", "backing", "folio_order", "threads",
                    "sharing", "layout", "dirty", "batch", "mem_node", "cpu_node", "mem_policy"] {
            #expect(header.contains(key), "missing \(key)")
        }
        let kind = try #require(header.firstIndex(of: "kind"))
        let detect = try #require(header.firstIndex(of: "detect"))
        let rows = lines.dropFirst()
        #expect(rows.allSatisfy { $0.count == header.count })
        let results = rows.filter { $0[kind] == "result" }
        #expect(results.map { $0[detect] }.sorted() == ["ledger", "off"])
        // ledger ÷ off time on unpin-each is the one comparison of this matrix.
        let comparisons = rows.filter { $0[kind] == "comparison" }
        #expect(comparisons.count == 1)
        #expect(comparisons.first?[detect] == "ledger")
    }
}
