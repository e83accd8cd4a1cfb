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
