import Foundation

/// A kernel row beside the model's same loop: the path's `modelStrategy` (io_uring:
/// io-uring-release, io_release_ubuf()'s own loop) on the same kind of memory, one thread, over
/// a page array in the kernel's descriptor order (layout pfn, PfnOrder) when the PFNs were
/// readable, else in virtual order (layout sequential). Plain and `--last-ref` rows alike: the
/// lookup, kernel ÷ model, what differs outside the band and their cells are written once here.
protocol SameLoopRow {
    associatedtype Measurement: KernelPathMeasurement
    var kernel: Measurement { get }
    var sameLoop: ResultRecord? { get }
    /// The same loop over the virtual-order array, when `sameLoop` is the PFN-ordered one.
    var sameLoopSequential: ResultRecord? { get }
    /// Pins the timed release dropped (smallest over cycles): one per bvec for io_uring.
    var releasedAtRelease: UInt64 { get }
}

extension SameLoopRow {
    /// The same loop for `kernel` in `results`, PFN-ordered first; and the virtual-order one
    /// beside it when the first is PFN-ordered.
    static func sameLoop(for kernel: Measurement, in results: [ResultRecord], lastRef: Bool)
        -> (sameLoop: ResultRecord?, sequential: ResultRecord?) {
        func same(_ layout: Layout) -> ResultRecord? {
            results.first {
                $0.scenario.backing == kernel.backing && $0.strategy == kernel.path.modelStrategy
                    && $0.scenario.lastRef == lastRef && $0.scenario.threads == 1 && $0.scenario.layout == layout
            }
        }
        let pfn = same(.pfn)
        return (pfn ?? same(.sequential), pfn == nil ? nil : same(.sequential))
    }

    /// The kernel's release loop (its release less the measured fixed cost, `loopNsPerPage`)
    /// over the same loop's (its release less its one-entry call, ResultRecord.loop): 1 = the
    /// model's walk costs what the kernel's does.
    var kernelOverModel: Double? { sameLoop.map { kernel.loop.median / $0.loop.median } }

    /// The measured terms of this row, with the same backing's other sizes among `rows`
    /// (KernelTerms.Inputs); nil without a same loop.
    func inputs(among rows: [Self]) -> KernelTerms.Inputs? {
        guard let same = sameLoop else { return nil }
        let k = kernel
        let others: [(pages: Int, kernelNs: Double, modelNs: Double)] = rows.compactMap { o in
            guard o.kernel.backing == k.backing, o.kernel.size != k.size, let m = o.sameLoop else { return nil }
            return (o.kernel.pages, o.kernel.loop.median, m.loop.median)
        }
        return KernelSizes.inputs(kernel: k.loop, kernelCI: k.loopCI, pages: k.pages, releasedAtUnregister: releasedAtRelease,
                                  model: same, sequential: sameLoopSequential, others: others)
    }

    func attribution(among rows: [Self]) -> KernelTerms.Attribution? {
        inputs(among: rows).flatMap(KernelTerms.attribute)
    }

    /// "same loop seq.", "same loop", "kernel ÷ same": the model's medians [95% CI] and the ratio.
    var sameLoopCells: [String] {
        [sameLoopSequential.map { KernelComparison.ci($0.loop) } ?? "-",
         sameLoop.map { KernelComparison.ci($0.loop) + ($0.scenario.layout == .pfn ? " pfn" : "") } ?? "-",
         kernelOverModel.map { Fmt.ratio($0) + "x" } ?? "-"]
    }

    /// "fixed", "kernel loop": the release's fixed cost (µs per release, median) and the
    /// kernel's loop (ns per page, median).
    var loopCells: [String] {
        [kernel.fixedReleaseNs.isEmpty ? "-" : Fmt.ns(kernel.fixedRelease.median / 1000) + " µs",
         Fmt.ns(kernel.loop.median)]
    }

    /// The note under every table with a "kernel loop".
    static func loopNote(release: String) -> String {
        "fixed = the \(release) of the region's first page alone (median µs: the syscall and the "
            + "teardown around the loop, and one unpin); kernel loop = the kernel's \(release) less that, "
            + "spread over the region's pages: what the model's same loop models, and what kernel ÷ model divides"
    }

    /// The kernel row's release split into fixed cost and loop, for its JSON.
    var loopJSON: [(String, JSON)] {
        [("fixed_release_ns", kernel.fixedReleaseNs.isEmpty ? .null : kernel.fixedRelease.json),
         ("fixed_release_samples", .array(kernel.fixedReleaseNs.map { JSON.num($0) })),
         ("loop_ns_per_page", .num(kernel.loop.median)),
         ("loop", kernel.loop.json)]
    }

    /// "differs": what differs, "agrees" inside the band, "-" without a same loop.
    func differsCell(_ verdict: KernelTerms.Attribution?) -> String {
        sameLoop == nil ? "-" : (verdict?.word ?? "agrees")
    }

    /// The line under the table saying what differs, for a row outside the band.
    func differsLine(_ verdict: KernelTerms.Attribution?) -> String? {
        verdict.map { "differs: \(ByteSize.format(kernel.size)) \(kernel.backing.rawValue): \($0.detail)" }
    }

    /// "within_band" and "attribution", the last keys of every kernel row's JSON.
    func bandJSON(_ a: KernelTerms.Attribution?) -> [(String, JSON)] {
        // Inside the band exactly when there is nothing to attribute (KernelTerms.attribute).
        [("within_band", .bool(sameLoop != nil && a == nil)),
         ("attribution", a.map { a in
             .object([("terms", .array(a.terms.map { .string($0.rawValue) })), ("measured", .bool(a.measured)),
                      ("detail", .string(a.detail))])
         } ?? .null)]
    }
}
