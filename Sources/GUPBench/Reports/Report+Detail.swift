import Foundation

extension Report {
    /// `gupbench run`'s figures as one row per result, for markdown: the percentiles, the
    /// aggregate rate, the work per page, the efficiency and the audit.
    public func detailTable() -> TextTable {
        var table = TextTable(header: ["strategy", "impl", "backing", "order", "threads", "median ns",
                                       "95% CI", "p90", "min", "max", "CV", "pages/s", "atomics/page",
                                       "efficiency", "per thread ns", "audit"], labelColumns: 5)
        for r in results {
            let s = r.scenario
            let n = r.nsPerPage
            table.add([r.strategy.rawValue, r.impl.rawValue, s.backingLabel,
                       String(s.folioOrder) + (s.forcedOrder ? " (forced)" : ""), String(s.threads),
                       Fmt.ns(n.median), "\(Fmt.ns(n.ci95Low))-\(Fmt.ns(n.ci95High))",
                       Fmt.ns(Statistics.percentile(r.nsPerPageSamples, 0.9)), Fmt.ns(n.min), Fmt.ns(n.max),
                       Fmt.percent(n.cv), Fmt.rate(r.pagesPerSecond), String(format: "%.3f", r.atomicsPerPage),
                       r.efficiency.map { Fmt.percent($0.median) } ?? "-",
                       r.perThreadNsPerPage.map(Fmt.ns).joined(separator: " "),
                       r.balanced ? "balanced" : "FAILED"])
        }
        return table
    }

    /// `gupbench run`'s plain text: one block per result, then the comparisons.
    func renderDetail() -> String {
        var out = title() + "\n"
        for r in results {
            let s = r.scenario
            let xs = r.nsPerPageSamples
            out += "\n\(r.strategy.rawValue) (\(r.impl.rawValue)) — \(r.strategy.kernelAnalogue)\n"
            out += "  \(s.backingLabel), folio order \(s.folioOrder)\(s.forcedOrder ? " (forced)" : ""), "
                + "\(ByteSize.format(s.size)), \(r.pages) pages, \(s.threads) thread(s) on CPUs "
                + r.cpus.map(String.init).joined(separator: ",") + ", sharing \(s.sharing.rawValue), "
                + "layout \(s.layout.rawValue), dirty \(s.dirty.rawValue)\n"
            out += "  ns/page   median \(Fmt.ns(r.nsPerPage.median)) [95% CI \(Fmt.ns(r.nsPerPage.ci95Low))-"
                + "\(Fmt.ns(r.nsPerPage.ci95High))]  min \(Fmt.ns(r.nsPerPage.min))  "
                + "p90 \(Fmt.ns(Statistics.percentile(xs, 0.9)))  max \(Fmt.ns(r.nsPerPage.max))  "
                + String(format: "CV %.1f%%", r.nsPerPage.cv * 100)
                + (r.nsPerPage.outliers > 0 ? ", \(r.nsPerPage.outliers) outlier(s) kept" : "") + "\n"
            out += "  rounds    \(r.nsPerPageRounds.rounds.count), medians "
                + r.nsPerPage.roundMedians.map(Fmt.ns).joined(separator: " ")
                + String(format: "; CV within rounds %.1f%%, between rounds %.1f%%",
                         r.nsPerPage.spread.withinRoundCV * 100, r.nsPerPage.spread.betweenRoundCV * 100) + "\n"
            if let overlap = r.threadOverlap {
                out += "  threads ran together for \(Fmt.percent(overlap)) of the section (median thread_overlap)"
                    + (overlap < ThreadOverlap.noisyBelow ? ": noisy, the threads partly ran one after the other" : "") + "\n"
            }
            out += "  aggregate \(Fmt.rate(r.pagesPerSecond)) pages; "
                + String(format: "%.3f atomics and %.3f flag tests per page", r.atomicsPerPage, r.flagTestsPerPage)
            if let floors = r.floors, let f = floors.binding, let eff = r.efficiency {
                out += "; floor \(Fmt.ns(f.nsPerPage)) ns (\(f.resource.rawValue)), efficiency \(Fmt.percent(eff.median)) "
                    + "[\(Fmt.percent(eff.ci95Low))-\(Fmt.percent(eff.ci95High))]"
                    + (r.beatsFloor ? ": the floor is above the measurement's CI, \(f.calibration) is too high" : "")
            }
            out += "\n"
            if let l = r.locksPerPage {  // --last-ref: the locks the frees took
                out += String(format: "  locks     %.4g lruvec, %.4g pcp, %.4g zone per page (each folio freed once)\n",
                              l.lruvec, l.pcp, l.zone)
            }
            if r.perThreadNsPerPage.count > 1 {
                out += "  per thread: " + zip(r.cpus, r.perThreadNsPerPage).enumerated().map {
                    "t\($0.offset) on CPU \($0.element.0) \(Fmt.ns($0.element.1)) ns/page"
                }.joined(separator: ", ") + "\n"
            }
            let p = r.placement
            let nodeText = { (counts: [Int]) in
                counts.enumerated().filter { $0.element > 0 }.map { "n\($0.offset): \($0.element)" }.joined(separator: ", ")
            }
            out += "  placement \(p.policy.rawValue) \(p.requestedNode.map { "node \($0)" } ?? "all nodes"): "
                + "data \(Fmt.percent(p.verifiedFraction)) verified (\(nodeText(p.dataNodePages))"
                + (p.sampleStride > 1 ? ", every \(p.sampleStride)th page" : "") + "), memmap "
                + "\(Fmt.percent(p.memmapVerifiedFraction)) (\(nodeText(p.memmapNodePages))); "
                + "THP-backed \(Fmt.percent(r.thpBackedFraction)); "
                + "\(Fmt.percent(r.folioBackedFraction)) in order-\(s.backing.requestedOrder) folios\n"
            out += "  audit \(r.balanced ? "balanced" : "FAILED: \(r.auditDetail ?? "")"): "
                + "\(r.pinsAcquired) acquired, \(r.pinsReleased) released\n"
        }
        if !comparisons.isEmpty {
            var table = TextTable(header: ["candidate", "baseline", "scenario", "speedup [95% CI]", "verdict"])
            for c in comparisons {
                table.add(["\(c.candidate.strategy.rawValue)/\(c.candidate.impl.rawValue)",
                           "\(c.baseline.strategy.rawValue)/\(c.baseline.impl.rawValue)",
                           "\(c.scenario.backingLabel) t\(c.scenario.threads)",
                           Fmt.speedup(c.speedup, c.ci95Low, c.ci95High), c.verdict.rawValue])
            }
            out += "\n" + table.rendered() + "\n"
        }
        return out + "\n" + footer() + "\n"
    }
}
