import Foundation

/// The layout file, schema `gupbench-layout/1`: structure only, run-length encoded, one run per
/// line so a GiB of memory stays a few kilobytes and a diff reads well. Documented in
/// docs/layout.md.
extension FolioLayout {
    public var summaryJSON: JSON {
        let s = summary
        return .object([
            ("pages", .int(s.pages)),
            ("present", .int(s.present)),
            ("zero", .int(s.zero)),
            ("array_pages", .int(s.arrayPages)),
            ("folios_by_order", .object(s.foliosByOrder.keys.sorted().map { (String($0), .int(s.foliosByOrder[$0]!)) })),
            ("mean_run_length", .num(s.meanRunLength)),
            ("runs", .int(s.runs)),
        ])
    }

    static func runJSON(_ run: LayoutRun) -> JSON {
        switch run {
        case .absent(let n): return .object([("absent", .int(n))])
        case .zero(let n): return .object([("zero", .int(n))])
        case .folio(let order, let index, let pages, let revisit):
            var fields: [(String, JSON)] = [("order", .int(order)), ("index", .int(index)), ("pages", .int(pages))]
            if let revisit { fields.append(("folio", .int(revisit))) }
            return .object(fields)
        }
    }

    /// The file's text.
    public func serialized() -> String {
        let head: [(String, JSON)] = [
            ("schema", .string(Self.schema)),
            ("page_size", .int(4096)),
            ("kernel", .string(kernel)),
            ("summary", summaryJSON),
        ]
        var text = "{\n"
        for (key, value) in head {
            text += "  " + JSON.quote(key) + ": " + value.serialized(indent: 1) + ",\n"
        }
        text += "  \"mappings\": [\n"
        text += mappings.map {
            "    " + JSON.object([("kind", .string($0.kind)), ("pages", .int($0.pages))]).serialized(pretty: false)
        }.joined(separator: ",\n")
        text += "\n  ],\n"
        text += "  \"runs\": [\n"
        text += runs.map { "    " + Self.runJSON($0).serialized(pretty: false) }.joined(separator: ",\n")
        text += "\n  ]\n}\n"
        return text
    }

    /// Writes the file whole or not at all: a temporary file beside it, renamed over it.
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try Data(serialized().utf8).write(to: temp)
            if rename(temp.path, url.path) != 0 {
                let e = errno
                try? FileManager.default.removeItem(at: temp)
                throw GUPBenchError.environment("cannot write --output \(path): \(errnoDescription(e))")
            }
        } catch let error as GUPBenchError {
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw GUPBenchError.environment("cannot write --output \(path): \(error.localizedDescription)")
        }
    }
}

/// A layout file read back and checked, with the digest that names it in reports.
public struct LayoutFile: Sendable {
    public let path: String
    public let layout: FolioLayout
    /// SHA-256 of the file's bytes.
    public let sha256: String

    public var shortDigest: String { String(sha256.prefix(12)) }

    /// Reads and validates `path`. A missing file, a file of another schema or one that
    /// contradicts itself is a usage error (exit 2) naming what is wrong.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GUPBenchError.usage("--layout-file \(path) cannot be read: \(errnoDescription(errno))")
        }
        self.path = path
        self.sha256 = SHA256.hex(data)
        self.layout = try Self.parse(data, path: path)
    }

    static func parse(_ data: Data, path: String) throws -> FolioLayout {
        func bad(_ what: String) -> GUPBenchError { .usage("--layout-file \(path): \(what)") }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw bad("not a JSON object; expected a \(FolioLayout.schema) file written by 'gupbench layout'")
        }
        guard let schema = root["schema"] as? String else { throw bad("no \"schema\"; expected \(FolioLayout.schema)") }
        guard schema == FolioLayout.schema else {
            throw bad("schema is '\(schema)'; expected \(FolioLayout.schema)")
        }
        func int(_ any: Any?, _ name: String) throws -> Int {
            guard let n = any as? NSNumber,
                  n.doubleValue == n.doubleValue.rounded(), n.doubleValue >= 0, n.doubleValue < 1e15
            else { throw bad("\(name) is not a non-negative integer") }
            return n.intValue
        }
        if let size = root["page_size"], try int(size, "page_size") != 4096 {
            throw bad("page_size is \(size); only 4096 is supported")
        }
        guard let rawRuns = root["runs"] as? [Any] else { throw bad("no \"runs\" array") }
        var runs: [LayoutRun] = []
        var folioOrders: [Int] = []
        for (k, raw) in rawRuns.enumerated() {
            guard let run = raw as? [String: Any] else { throw bad("run \(k) is not an object") }
            if let n = run["absent"] {
                runs.append(.absent(pages: try int(n, "run \(k) absent")))
            } else if let n = run["zero"] {
                runs.append(.zero(pages: try int(n, "run \(k) zero")))
            } else {
                let order = try int(run["order"], "run \(k) order")
                let index = try int(run["index"], "run \(k) index")
                let pages = try int(run["pages"], "run \(k) pages")
                guard order <= FolioLayout.maxOrder else {
                    throw bad("run \(k) has order \(order); valid: 0-\(FolioLayout.maxOrder)")
                }
                guard pages > 0, order == 0 ? index == 0 : index + pages <= 1 << order else {
                    throw bad("run \(k) has pages \(index)..<\(index + pages), outside a folio of order \(order)")
                }
                var revisit: Int?
                if let f = run["folio"] {
                    let ordinal = try int(f, "run \(k) folio")
                    guard ordinal < folioOrders.count, folioOrders[ordinal] == order, order > 0 || pages == 1 else {
                        throw bad("run \(k) revisits folio \(ordinal), which no earlier run of order \(order) introduced")
                    }
                    revisit = ordinal
                } else {
                    folioOrders += Array(repeating: order, count: order == 0 ? pages : 1)
                }
                runs.append(.folio(order: order, index: index, pages: pages, revisit: revisit))
            }
            if runs.last!.pages <= 0 { throw bad("run \(k) has no pages") }
        }
        var mappings: [(kind: String, pages: Int)] = []
        for (k, raw) in ((root["mappings"] as? [Any]) ?? []).enumerated() {
            guard let m = raw as? [String: Any], let kind = m["kind"] as? String else {
                throw bad("mapping \(k) has no \"kind\"")
            }
            mappings.append((kind, try int(m["pages"], "mapping \(k) pages")))
        }
        let layout = FolioLayout(runs: runs, mappings: mappings, kernel: root["kernel"] as? String ?? "")
        let s = layout.summary
        if !mappings.isEmpty && mappings.reduce(0, { $0 + $1.pages }) != s.pages {
            throw bad("its mappings hold \(mappings.reduce(0) { $0 + $1.pages }) pages but its runs \(s.pages)")
        }
        // The stored summary must agree with the runs: a cheap check against a damaged file.
        guard let stored = root["summary"] as? [String: Any] else { throw bad("no \"summary\"") }
        for (key, value) in [("pages", s.pages), ("present", s.present), ("array_pages", s.arrayPages)] {
            let got = try int(stored[key], "summary.\(key)")
            if got != value { throw bad("summary.\(key) is \(got) but the runs give \(value) (file damaged?)") }
        }
        guard let byOrder = stored["folios_by_order"] as? [String: Any] else { throw bad("no summary.folios_by_order") }
        var storedOrders: [Int: Int] = [:]
        for (key, value) in byOrder {
            guard let order = Int(key) else { throw bad("summary.folios_by_order has key '\(key)'; keys are orders") }
            storedOrders[order] = try int(value, "summary.folios_by_order.\(key)")
        }
        if storedOrders != s.foliosByOrder {
            throw bad("summary.folios_by_order does not match the runs (\(s.foliosText)) (file damaged?)")
        }
        guard s.arrayPages > 0 else { throw bad("no present pages to pin (\(s.pages) pages, all absent or zero)") }
        return layout
    }
}
