import Foundation

/// Which measured term differs when the kernel's unregistration and the model's same loop
/// (io-uring-release) disagree: a row whose kernel ÷ model lies outside `band`.
///
/// Only what the run measures is used:
/// - **calls**: how many unpin_user_folio() calls the kernel made per page (its
///   NR_FOLL_PIN_RELEASED delta at unregistration: one pin per bvec) against the model's (its
///   is_zero_folio() tests, one per call), and the model's call term (calls × the calibrated
///   out-of-line call, `kernel_call_ns`);
/// - **memmap access**: the same loop over descriptors in the kernel's frame order and in
///   virtual order (same loop and same loop seq.), and the model's line term (descriptor and
///   bvec lines × the calibrated memmap line);
/// - **accounting**: the FOLL_PIN counter updates (per-CPU cmpxchgs × `local_cmpxchg_ns`);
/// - **free path** (--last-ref): the lruvec, pcp and zone lock pairs × `lock_pair_ns`;
/// - across the size list, the gap per unregistration fitted as a fixed part plus a part per
///   page: a fixed part that makes up most of the gap is a cost per call (the syscall and the
///   buffer table's teardown), which the model has no term for.
/// When the kernel's and the model's CIs overlap, the row is within noise; when none of these
/// singles one out, the attribution says so.
public enum KernelTerms {
    /// kernel ÷ model inside this band agrees.
    public static let band: ClosedRange<Double> = 0.67...1.5

    public enum Term: String, Sendable, Equatable {
        case calls
        case memmapAccess = "memmap access"
        case accounting
        case freePath = "free path"
        case fixedCost = "fixed cost per unregistration"
        case unattributed = "not attributable"
        /// The kernel's and the model's 95% CIs overlap: the run cannot tell the ratio from agreement.
        case noise = "within noise"
    }

    /// What one row measured, per 4 KiB page (ns) unless said.
    public struct Inputs: Sendable, Equatable {
        public var kernelNs: Double
        /// The same loop on the kernel's descriptor order (or virtual order when that is all there is).
        public var modelNs: Double
        /// The same loop over descriptors in virtual order, when `modelNs` is the frame-ordered one.
        public var modelSequentialNs: Double?
        public var pages: Int
        /// The kernel's unpin_user_folio() calls per page: vmstat released at unregistration / pages.
        public var kernelUnpinsPerPage: Double
        /// The model's: is_zero_folio() tests per page (one per call).
        public var modelUnpinsPerPage: Double?
        /// The model's floor terms, ns per page: calls, lines, per-CPU cmpxchgs, lock pairs.
        public var callsNs: Double
        public var memmapNs: Double
        public var accountingNs: Double
        public var freePathNs: Double
        /// The same backing at the other sizes of the run: (pages, kernel ns per page, model ns per page).
        public var otherSizes: [(pages: Int, kernelNs: Double, modelNs: Double)]
        /// The 95% CIs of the kernel's and the model's medians, when known.
        public var kernelCI: ClosedRange<Double>? = nil
        public var modelCI: ClosedRange<Double>? = nil

        public init(kernelNs: Double, modelNs: Double, modelSequentialNs: Double? = nil, pages: Int,
                    kernelUnpinsPerPage: Double, modelUnpinsPerPage: Double?, callsNs: Double = 0,
                    memmapNs: Double = 0, accountingNs: Double = 0, freePathNs: Double = 0,
                    otherSizes: [(pages: Int, kernelNs: Double, modelNs: Double)] = []) {
            self.kernelNs = kernelNs
            self.modelNs = modelNs
            self.modelSequentialNs = modelSequentialNs
            self.pages = pages
            self.kernelUnpinsPerPage = kernelUnpinsPerPage
            self.modelUnpinsPerPage = modelUnpinsPerPage
            self.callsNs = callsNs
            self.memmapNs = memmapNs
            self.accountingNs = accountingNs
            self.freePathNs = freePathNs
            self.otherSizes = otherSizes
        }

        public static func == (a: Inputs, b: Inputs) -> Bool {
            a.kernelNs == b.kernelNs && a.modelNs == b.modelNs && a.modelSequentialNs == b.modelSequentialNs
                && a.pages == b.pages && a.kernelUnpinsPerPage == b.kernelUnpinsPerPage
                && a.modelUnpinsPerPage == b.modelUnpinsPerPage && a.callsNs == b.callsNs
                && a.memmapNs == b.memmapNs && a.accountingNs == b.accountingNs && a.freePathNs == b.freePathNs
                && a.otherSizes.map(\.pages) == b.otherSizes.map(\.pages)
                && a.otherSizes.map(\.kernelNs) == b.otherSizes.map(\.kernelNs)
                && a.otherSizes.map(\.modelNs) == b.otherSizes.map(\.modelNs)
                && a.kernelCI == b.kernelCI && a.modelCI == b.modelCI
        }

        public var ratio: Double { kernelNs / modelNs }
    }

    /// The verdict on one row: nil when kernel ÷ model is inside `band`; otherwise the term(s)
    /// the measurements single out (`.unattributed` when they do not) and one line saying why.
    public struct Attribution: Sendable, Equatable {
        public let terms: [Term]
        public let detail: String
        /// False when the term is only the one the sizes of the terms leave (rule 4: a costlier
        /// or cheaper event of that kind), not a count or a comparison that shows it.
        public var measured = true
        /// The table's cell: the terms ("calls?" when not `measured`), or "not attributable".
        public var word: String { terms.map(\.rawValue).joined(separator: ", ") + (measured ? "" : "?") }
    }

    public static func attribute(_ x: Inputs) -> Attribution? {
        // Either loop at or below zero (a release no longer than its fixed cost, which it is
        // computed against): no ratio to judge, and never agreement.
        guard x.modelNs > 0, x.kernelNs > 0 else {
            let side = x.modelNs > 0 ? "the kernel's" : "the model's"
            return Attribution(terms: [.noise], detail: "\(side) loop is \(Fmt.ns(min(x.kernelNs, x.modelNs))) ns a "
                + "page: its release is no longer than the fixed cost measured apart, so this run cannot resolve "
                + "the loop on this region (kernel \(Fmt.ns(x.kernelNs)), model \(Fmt.ns(x.modelNs)) ns a page)")
        }
        let ratio = x.ratio
        if band.contains(ratio) { return nil }
        let gap = x.kernelNs - x.modelNs
        let slower = gap > 0 ? "slower" : "faster"
        func perPage(_ x: Double) -> String {
            x >= 0.5 || x <= 0 ? Fmt.ratio(x) + " a page" : "1 per \(Int((1 / x).rounded())) pages"
        }
        let head = "kernel ÷ model \(Fmt.ratio(ratio))x: the kernel is \(Fmt.ns(abs(gap))) ns a page \(slower)"

        // 0. Noise: the two medians' CIs overlap, so the run does not show a difference at all.
        if let k = x.kernelCI, let m = x.modelCI, k.overlaps(m) {
            return Attribution(terms: [.noise], detail: head
                + "; but the kernel's 95% CI [\(Fmt.ns(k.lowerBound))-\(Fmt.ns(k.upperBound))] and the model's "
                + "[\(Fmt.ns(m.lowerBound))-\(Fmt.ns(m.upperBound))] overlap: this run cannot tell it from agreement")
        }
        // 1. Counts: a different number of calls (and of accounting updates, one per call).
        if let model = x.modelUnpinsPerPage, model > 0, x.kernelUnpinsPerPage > 0 {
            let rel = abs(x.kernelUnpinsPerPage - model) / max(x.kernelUnpinsPerPage, model)
            if rel > 0.05 {
                return Attribution(terms: [.calls, .accounting], detail: head
                    + "; the kernel made \(perPage(x.kernelUnpinsPerPage)) unpin_user_folio() calls and FOLL_PIN "
                    + "updates (vmstat released at unregistration), the model \(perPage(model))")
            }
        }
        // 2. Memmap access: the same loop in virtual order agrees where the frame order does not.
        if let seq = x.modelSequentialNs, seq > 0 {
            let seqRatio = x.kernelNs / seq
            if band.contains(seqRatio) {
                return Attribution(terms: [.memmapAccess], detail: head
                    + "; over descriptors in virtual order the model agrees (kernel ÷ \(Fmt.ratio(seqRatio))x): "
                    + "the descriptor order (memmap access) is what differs")
            }
        }
        // 3. Across sizes: the gap per unregistration (gap × pages) fitted as a + b × pages over
        //    every size of this backing; a fixed part a that makes up at least half of this row's
        //    gap is a cost per call, not per page.
        let gapCall = gap * Double(x.pages)
        let points = [(Double(x.pages), gapCall)]
            + x.otherSizes.map { (Double($0.pages), ($0.kernelNs - $0.modelNs) * Double($0.pages)) }
        if gap > 0, Set(points.map(\.0)).count >= 2 {
            let n = Double(points.count)
            let mx = points.map(\.0).reduce(0, +) / n, my = points.map(\.1).reduce(0, +) / n
            let sxx = points.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
            let sxy = points.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +)
            let b = sxx > 0 ? sxy / sxx : 0
            let a = my - b * mx
            // Only a fit that describes every size: the fixed part no more than this row's whole gap
            // (with a quarter for noise), no real negative part per page, each size's gap within half.
            let fits = points.allSatisfy { abs(a + b * $0.0 - $0.1) <= 0.5 * abs($0.1) }
            let largest = points.map(\.0).max() ?? 0
            if a > 0, a >= 0.5 * gapCall, a <= 1.25 * gapCall, b * largest >= -0.25 * a, fits {
                return Attribution(terms: [.fixedCost], detail: head
                    + "; over the \(points.count) sizes the gap per unregistration fits \(Fmt.ns(a / 1000)) µs + "
                    + "\(Fmt.ns(b)) ns a page: the fixed part is \(Fmt.percent(min(1, a / gapCall))) of the gap here, a cost "
                    + "per call beyond the one-page release measured apart (fixed), which the model has no term for")
            }
        }
        // 4. Counts agree: the events cost a different amount. Name a term only when it alone is
        //    large enough to hold the gap and the others together are not.
        let terms: [(Term, Double)] = [(.calls, x.callsNs), (.memmapAccess, x.memmapNs),
                                       (.accounting, x.accountingNs), (.freePath, x.freePathNs)].filter { $0.1 > 0 }
        let listed = terms.map { "\($0.0.rawValue) \(Fmt.ns($0.1))" }.joined(separator: ", ")
        if gap < 0 {
            // The kernel is faster: some modelled term costs more than the kernel's.
            let able = terms.filter { $0.1 >= -gap }
            if able.count == 1 {
                return Attribution(terms: [able[0].0], detail: head
                    + "; the counts agree, and only the model's \(able[0].0.rawValue) term (\(Fmt.ns(able[0].1)) ns a "
                    + "page) is larger than the gap, so it is the likeliest one the model overestimates; the run does "
                    + "not measure it apart from the others (terms: \(listed))", measured: false)
            }
        } else if let largest = terms.max(by: { $0.1 < $1.1 }),
                  terms.filter({ $0.0 != largest.0 }).map(\.1).reduce(0, +) * 3 < gap,
                  largest.1 * 3 >= gap {
            return Attribution(terms: [largest.0], detail: head
                + "; the counts agree, and only the \(largest.0.rawValue) term (\(Fmt.ns(largest.1)) ns a page) is "
                + "large enough that a costlier event could make up the gap: the likeliest, but the run does not "
                + "measure it apart from the others (terms: \(listed))", measured: false)
        }
        return Attribution(terms: [.unattributed], detail: head
            + "; the counts agree (\(perPage(x.kernelUnpinsPerPage)) unpins) and the gap is not singled out "
            + "by the measured terms (\(listed.isEmpty ? "none" : listed + " ns a page")): not attributable from this run")
    }
}
