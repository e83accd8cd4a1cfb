import Foundation

/// `gupbench sweep`: one parameter over a list of values, everything else fixed.
public enum SweepParam: String, CaseIterable, Sendable {
    case threads, size
    case folioOrder = "folio-order"
    case batch

    /// The values swept when --values is not given.
    public func defaultValues(cpus: Int) -> [String] {
        switch self {
        case .threads: return (1...max(1, cpus)).map(String.init)
        case .size: return ["16MiB", "64MiB", "256MiB", "1GiB"]
        case .folioOrder: return ["0", "1", "2", "4", "6", "9"]
        case .batch: return ["1", "8", "64", "512", "4096"]
        }
    }

    /// Puts the swept values into the matrix; returns them as numbers for reports.
    public func apply(_ values: [String], to config: inout BenchConfig) throws -> [Int] {
        func ints(_ range: ClosedRange<Int>) throws -> [Int] {
            try values.map { text in
                guard let n = Int(text.trimmed), range.contains(n) else {
                    throw GUPBenchError.usage("--values '\(text)' is not valid for --param \(rawValue); valid: whole numbers \(range.lowerBound)-\(range.upperBound)")
                }
                return n
            }
        }
        switch self {
        case .threads:
            config.threads = try ints(1...4096)
            return config.threads
        case .size:
            config.sizes = try values.map { try ByteSize.parse($0, option: "--values") }
            return config.sizes
        case .folioOrder:
            let orders = try ints(0...PageModel.maxOrder)
            config.folioOrders = orders.map { $0 }
            return orders
        case .batch:
            let batches = try ints(1...Int(Int32.max))
            config.batches = batches.map { $0 }
            return batches
        }
    }

    /// The value of this parameter in a result.
    public func value(of r: ResultRecord) -> Int {
        switch self {
        case .threads: return r.scenario.threads
        case .size: return r.scenario.size
        case .folioOrder: return r.scenario.folioOrder
        case .batch: return r.scenario.batchPages(pagesPerThread: r.pagesPerThread)
        }
    }

    public func format(_ value: Int) -> String { self == .size ? ByteSize.format(value) : String(value) }
}

extension Report {
    /// Rows per (backing, strategy, impl) and value, with a bar per row scaled to the slowest.
    /// Thread sweeps add the aggregate rate and the linear-scaling figure beside it.
    public func renderSweep(_ param: SweepParam) -> String {
        let slowest = results.map(\.nsPerPage.median).filter(\.isFinite).max() ?? 1
        let threadSweep = param == .threads
        var header = ["backing", "strategy", param.rawValue, "ns/page (eff)", "95% CI"]
        if threadSweep { header += ["pages/s", "linear", "scaling"] }
        header += ["vs unpin-each", ""]
        var table = TextTable(header: header, labelColumns: 2)
        var groups: [String] = []
        for r in results {
            let g = "\(r.scenario.backing.rawValue) \(label(r.key))"
            if !groups.contains(g) { groups.append(g) }
        }
        for g in groups {
            let rs = results.filter { "\($0.scenario.backing.rawValue) \(label($0.key))" == g }
            let one = rs.first { $0.scenario.threads == 1 }
            for (k, r) in rs.enumerated() {
                var cells = [k == 0 ? r.scenario.backing.rawValue : "", k == 0 ? label(r.key) : "",
                             param.format(param.value(of: r)), Self.costCell(r),
                             "\(Fmt.ns(r.nsPerPage.ci95Low))-\(Fmt.ns(r.nsPerPage.ci95High))"]
                if threadSweep {
                    let linear = one.map { $0.pagesPerSecond * Double(r.scenario.threads) }
                    cells += [Fmt.rate(r.pagesPerSecond), linear.map(Fmt.rate) ?? "-",
                              linear.map { Fmt.percent(r.pagesPerSecond / $0) } ?? "-"]
                }
                let vsEach = comparisons.first {
                    $0.scenario == r.scenario && $0.candidate == r.key && $0.baseline.strategy == .unpinEach && $0.baseline.detect == r.detect
                }
                cells.append(vsEach.map(Self.comparisonCell) ?? "")
                cells.append(Self.bar(r.nsPerPage.median / slowest, width: 24))
                table.add(cells)
            }
        }
        return title() + "\n\n" + table.rendered() + "\n\n" + footer() + "\n"
    }

    /// A horizontal bar of unicode blocks, `fraction` of `width` cells, eighths included.
    static func bar(_ fraction: Double, width: Int) -> String {
        guard fraction.isFinite, fraction > 0 else { return "" }
        let eighths = Int((min(fraction, 1) * Double(width * 8)).rounded())
        let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
    }
}
