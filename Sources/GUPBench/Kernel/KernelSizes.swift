import Foundation

/// `gupbench kernel` over a size list: per size, the kernel's measurements beside the model's
/// report of the same size, and for each row whose kernel ÷ same loop lies outside
/// `KernelTerms.band`, which measured term differs (KernelTerms).
public struct KernelSizes: Sendable {
    /// One size: built by KernelRun, which runs the kernel path and the model beside it.
    public struct Entry: Sendable {
        public let size: Int
        public let comparison: KernelComparison
        public let report: Report
    }

    public let entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    /// Every size's rows, in run order (size, then backing).
    public var rows: [KernelComparison.Row] { entries.flatMap(\.comparison.rows) }

    /// One report of the whole run (`merged`).
    public var mergedReport: Report { Self.merged(entries.map(\.report)) }

    /// One report of a run over several sizes (plain or `--last-ref`): every size's results,
    /// comparisons and skips; the phases added up; the memory of the size that held the most.
    static func merged(_ reports: [Report]) -> Report {
        guard var merged = reports.first else {
            return Report(command: "kernel", topology: Topology.read(), calibration: nil)
        }
        for r in reports.dropFirst() {
            merged.results += r.results
            merged.comparisons += r.comparisons
            merged.skipped += r.skipped.filter { !merged.skipped.contains($0) }
            if merged.partial == nil { merged.partial = r.partial }
            if let m = r.memory, m.predicted.totalBytes > (merged.memory?.predicted.totalBytes ?? 0)
                || m.peakResidentBytes > (merged.memory?.peakResidentBytes ?? 0) {
                merged.memory = MemoryUse(
                    predicted: m.predicted.totalBytes >= (merged.memory?.predicted.totalBytes ?? 0)
                        ? m.predicted : merged.memory!.predicted,
                    peakResidentBytes: max(m.peakResidentBytes, merged.memory?.peakResidentBytes ?? 0))
            }
            if let p = r.phases {
                var sum = merged.phases ?? RunPhases()
                sum.map += p.map
                sum.verify += p.verify
                sum.calibrate += p.calibrate
                sum.measure += p.measure
                merged.phases = sum
            }
        }
        return merged
    }

    /// The measured terms of one row, with the same backing's other sizes (KernelTerms.Inputs).
    public func inputs(_ row: KernelComparison.Row) -> KernelTerms.Inputs? { row.inputs(among: rows) }

    /// Inputs from a kernel time and the model's same-loop records (also `--last-ref`'s).
    static func inputs(kernel: Summary, kernelCI: ClosedRange<Double>, pages: Int, releasedAtUnregister: UInt64,
                       model: ResultRecord,
                       sequential: ResultRecord?,
                       others: [(pages: Int, kernelNs: Double, modelNs: Double)]) -> KernelTerms.Inputs {
        func floor(_ r: FloorResource) -> Double {
            model.floors?.floors.first { $0.resource == r }?.nsPerPage ?? 0
        }
        var inputs = KernelTerms.Inputs(
            kernelNs: kernel.median, modelNs: model.loop.median, modelSequentialNs: sequential?.loop.median,
            pages: pages, kernelUnpinsPerPage: Double(releasedAtUnregister) / Double(max(1, pages)),
            modelUnpinsPerPage: model.kernelCallsPerPage?.zeroFolioTests,
            callsNs: floor(.calls), memmapNs: floor(.lines), accountingNs: floor(.percpuCmpxchg),
            freePathNs: floor(.lockPairs), otherSizes: others)
        inputs.kernelCI = kernelCI
        inputs.modelCI = model.loop.ci95Low...max(model.loop.ci95Low, model.loop.ci95High)
        return inputs
    }

    public func attribution(_ row: KernelComparison.Row) -> KernelTerms.Attribution? { row.attribution(among: rows) }

    // MARK: - Table

    /// Per size, the kernel table of that size; then kernel ÷ same loop for every size and
    /// backing, with what differs where it is outside the band.
    public func renderTable() -> String {
        var out = ""
        for e in entries {
            out += e.comparison.renderTable(model: e.report) + "\n"
        }
        out += summaryTable()
        return out
    }

    /// kernel ÷ same loop per size and backing (the medians), and what differs outside the band.
    public func summaryTable() -> String {
        var t = TextTable(header: ["size", "backing", "kernel unpin", "fixed", "kernel loop", "same loop",
                                   "kernel ÷ same", "differs"],
                          labelColumns: 2)
        var details: [String] = []
        for row in rows {
            let k = row.kernel
            let verdict = attribution(row)
            t.add([ByteSize.format(k.size), k.backing.rawValue, Fmt.ns(k.unpin.median)] + row.loopCells + [
                   row.sameLoop.map { Fmt.ns($0.loop.median) } ?? "-",
                   row.kernelOverModel.map { Fmt.ratio($0) + "x" } ?? "-", row.differsCell(verdict)])
            if let line = row.differsLine(verdict) { details.append(line) }
        }
        return "kernel ÷ model per size (median ns per 4 KiB page; agrees = within "
            + "\(Fmt.ratio(KernelTerms.band.lowerBound))-\(Fmt.ratio(KernelTerms.band.upperBound))x; "
            + "'?' = the likeliest term, not one a count or comparison shows; kernel loop = kernel unpin less "
            + "the fixed cost of releasing one page, spread over the pages)\n\n"
            + t.rendered() + "\n" + (details.isEmpty ? "" : "\n" + details.joined(separator: "\n") + "\n")
    }

    // MARK: - JSON

    /// "kernel": every size's rows (each with its size_bytes and "attribution"), and
    /// "kernel_speedups": every size's speedups (each with its size_bytes).
    public var jsonFields: [(String, JSON)] {
        var rowsJSON: [JSON] = []
        var speedups: [JSON] = []
        for e in entries {
            for row in e.comparison.rows {
                guard case .object(let fields) = row.json else { continue }
                rowsJSON.append(.object(fields + row.bandJSON(attribution(row))))
            }
            for s in e.comparison.speedups {
                guard case .object(var fields) = s.json else { continue }
                fields.insert(("size_bytes", .int(e.size)), at: 0)
                speedups.append(.object(fields))
            }
        }
        return [("kernel_sizes", .array(entries.map { .int($0.size) })),
                ("kernel", .array(rowsJSON)), ("kernel_speedups", .array(speedups))]
    }

    public var vmstatComplete: Bool { entries.allSatisfy(\.comparison.vmstatComplete) }
    public var otherPinning: Bool { entries.contains(where: \.comparison.otherPinning) }
}
