/// The least time a release loop could take per page on this machine: the work the loop really
/// did, charged at the calibrated cost of the access pattern it really has. docs/roofline.md
/// gives the formula of every strategy; in short, per 4 KiB page:
///
///     per-entry walks (put-page, unpin-each, unpin-batched, release-pages), sequential array:
///         order 0:  max(1 atomic stream + (atomics − 1) × atomic, 1/8 stream (array))
///         order >0, an RMW per entry (put-page, unpin-each, release-pages): as order 0
///         order >0, RMWs per folio run (unpin-batched): max(1 × stream, atomics × atomic)
///     per-entry walks, shuffled array:
///         max(1 × dependent load + atomics × atomic, 1/8 × stream)
///     unpin-range (folio arithmetic on a contiguous range, order k, 2^k pages per folio):
///         order 0:    1 atomic stream + (atomics − 1) × atomic
///         0 < k < 6:  max(2/2^k × stream, atomics × atomic)       (next folio on the same memmap page)
///         k ≥ 6:      max(1/2^k × jump + (atomics − 1/2^k) × atomic, 1/2^k × stream)
///     unpin-folios and io-uring-release at k ≥ 6: a strided RMW per folio in place of the
///         jump (the array names the next head), against the stream of their arrays
///         (docs/roofline.md)
///     with release calls (the pin strategies): their share beside the RMWs, and on order 0
///         what a call adds to the atomic stream; each vmstat fold's two adds, contended with
///         more than one thread (docs/roofline.md)
///
/// "atomic" is one LOCK-prefixed RMW on a line already in L1 (contended when threads share
/// folios); "atomic stream" one on each consecutive descriptor of a memmap-sized buffer (the
/// read included); "stream" a plain read of consecutive descriptors; "jump" one step of a walk
/// that reads in a folio how far the next one is and does an RMW there (each address depends
/// on the previous load; the prefetcher cannot run ahead across memmap pages); "dependent
/// load" a load at a random place. The memmap-sized figures are measured on a buffer of the
/// run's memmap size written just before (as pinning writes the memmap); without them the
/// in- or out-of-LLC figures stand in, and the single RMW for the atomic stream and the jump.
///
/// Every term is a part of the work the loop must do, measured at its best (the fastest of
/// several passes), and the terms add because of the x86 ordering rule (docs/model.md): locked
/// instructions have a total order, and loads and stores are not reordered with them, so the
/// next entry's reads cannot overlap the current entry's RMW. So the roofline is a lower
/// bound. A result faster than it beyond its CI means a calibration was wrong, and the report
/// names the term.
public enum Roofline {
    /// Folio orders from which the next folio's descriptor is on another 4 KiB memmap page
    /// (2^6 descriptors × 64 bytes = 4 KiB): jumps the prefetcher does not follow.
    public static let jumpOrder = 6

    public static func estimate(strategy: Strategy, scenario: ScenarioKey, atomicsPerPage: Double,
                                memmapBytes: Int, calibration c: CalibrationFigures,
                                locksPerPage: LocksPerPage? = nil,
                                kernelCalls: KernelCallsPerPage? = nil) -> RooflineEstimate {
        let contended = scenario.sharing == .interleaved && scenario.threads > 1
        let inCache = memmapBytes <= c.llcBytes / 2
        let m = c.memmap(bytes: memmapBytes)
        let suffix = inCache ? "_in_cache" : ""
        let stream: (String, Double) = m.map { ("memmap_stream_ns_per_descriptor", $0.streamNs) }
            ?? ("stream_ns_per_descriptor" + suffix, inCache ? c.streamNsPerDescriptorInCache : c.streamNsPerDescriptor)
        let fallbackLatency = inCache ? c.latencyNsPerDescriptorInCache : c.latencyNsPerDescriptor
        let latency: (String, Double) = m.map { ("memmap_latency_ns_per_descriptor", $0.latencyNs) }
            ?? fallbackLatency.map { ("latency_ns_per_descriptor" + suffix, $0) } ?? stream
        let atomic: (String, Double) = contended && c.contendedAtomicNs != nil
            ? ("contended_atomic_ns", c.contendedAtomicNs!) : ("atomic_ns", c.atomicNs)
        let atomicStream: (String, Double) = m.map { ("memmap_atomic_stream_ns_per_descriptor", $0.atomicStreamNs) } ?? atomic
        let jump: (String, Double) = m.map { ("memmap_jump_ns_per_folio", $0.jumpNs) } ?? atomic

        var terms: [RooflineEstimate.Term] = []
        var overlapped: [RooflineEstimate.Term] = []
        func term(_ figure: (String, Double), _ perPage: Double) -> [RooflineEstimate.Term] {
            perPage > 0 ? [.init(name: figure.0, perPage: perPage, ns: figure.1)] : []
        }
        func add(_ figure: (String, Double), _ perPage: Double) { terms += term(figure, perPage) }
        // Lines the prefetcher streams in ahead arrive while the RMWs run on lines already in
        // L1 (a locked instruction holds back the loads after it, not the prefetcher): the two
        // overlap, and only the larger is charged.
        func larger(_ a: [RooflineEstimate.Term], _ b: [RooflineEstimate.Term]) {
            let sa = a.reduce(0) { $0 + $1.nsPerPage }, sb = b.reduce(0) { $0 + $1.nsPerPage }
            terms += sa >= sb ? a : b
            overlapped += sa >= sb ? b : a
        }
        let order = scenario.folioOrder
        let perFolio = 1 / Double(1 << order)
        let arrayEntry = 1.0 / 8  // an 8-byte pointer per page: an eighth of a line of the array
        // The pin strategies' out-of-line release calls (gb_kcalls.h): what one plain call with
        // its is_zero_folio() test and its accounting call's unlocked cmpxchg adds to a loop of
        // RMWs, once per release call (one is_zero_folio() test each). It runs beside the RMWs,
        // not beside the streams, so it joins the RMW side of each max.
        let calls: [RooflineEstimate.Term] = kernelCalls.flatMap { k in
            c.releaseCallNs.map { term(("release_call_ns", $0), k.zeroFolioTests) }
        } ?? []
        // Order 0, where the run calibrated what a release call adds to the atomic stream itself
        // (memmap_release_call_stream_ns_per_descriptor: an RMW and a call on each streamed
        // descriptor, the order-0 loop's very shape), that much of each call is charged on top
        // of the stream: the part that does not hide under the line's arrival. (On a large
        // folio the RMWs land on the head in L1 instead, and the figure over-charged unpin-each
        // on THP: the roofline came out above the measurement.)
        let streamCalls: [RooflineEstimate.Term] = order > 0 ? [] : kernelCalls.flatMap { k in
            m?.releaseCallStreamNs.map { term(("memmap_release_call_stream_ns_per_descriptor", $0), k.zeroFolioTests) }
        } ?? []
        // An RMW per entry on the line just read (order 0) or found through it (a large folio's
        // head): each entry's RMW waits for its descriptor and the next read for the RMW. The
        // calls were calibrated beside RMWs on lines in L1; part of a call hides under the
        // line's arrival. The loop does at least the atomic stream, and at least the RMWs with
        // the calls: the larger.
        func streamOrCalls() -> [RooflineEstimate.Term] {
            let fetched = term(atomicStream, 1) + term(atomic, atomicsPerPage - 1) + streamCalls
            let called = term(atomic, atomicsPerPage) + calls
            let sf = fetched.reduce(0) { $0 + $1.nsPerPage }, sc = called.reduce(0) { $0 + $1.nsPerPage }
            if sf >= sc {
                if !calls.isEmpty { overlapped += called }
                return fetched
            }
            // The RMWs alone outweigh the stream: calls, or a contended line shared by threads.
            overlapped += fetched
            return called
        }
        // A folio whose head is on another memmap page (order ≥ jumpOrder): one jump (its RMW
        // included), the folio's other RMWs in L1, and the calls; page[1], the next line, is
        // streamed under them. Where the next head's address comes from an array (unpin-folios,
        // io-uring-release), not from a load in this folio (unpin-range), the step to it is a
        // strided RMW, not a dependent jump: the core can start the next head's miss (its page
        // walk included) before this folio's load returns, and on a machine whose LLC holds the
        // memmap the dependent jump was beaten by 2.6x on THP io-uring-release. The calls run
        // while that line is on its way: the larger of the steps and the RMWs with the calls is
        // charged (adding the calls was beaten in 6 of 40 default runs on THP io-uring-release).
        let strided: (String, Double) = m?.stridedRmwNs.map { ("memmap_strided_rmw_ns_per_folio", $0) } ?? jump
        func folioJumps(addressFromArray: Bool) -> [RooflineEstimate.Term] {
            let jumped = term(addressFromArray ? strided : jump, perFolio) + term(atomic, atomicsPerPage - perFolio)
            guard addressFromArray, !calls.isEmpty else { return jumped + calls }
            let called = term(atomic, atomicsPerPage) + calls
            let sj = jumped.reduce(0) { $0 + $1.nsPerPage }, sc = called.reduce(0) { $0 + $1.nsPerPage }
            overlapped += sj >= sc ? called : jumped
            return sj >= sc ? jumped : called
        }
        switch strategy.access {
        case .entryWalk:
            if scenario.layout == .shuffled {
                larger(term(latency, 1) + term(atomic, atomicsPerPage) + calls, term(stream, arrayEntry))
            } else if order == 0 {
                larger(streamOrCalls(), term(stream, arrayEntry))
            } else if atomicsPerPage >= 1 {
                // An RMW on the folio per entry (put_page(), unpin_user_page() of every page):
                // each entry's descriptor is read to find the folio (compound_head) and the
                // next entry's read waits for this entry's locked RMW, as in the atomic stream.
                larger(streamOrCalls(), term(stream, 1))
            } else {
                // RMWs once per folio run: the reads of the entries' descriptors run ahead of them,
                // streamed; the array's eighth of a line per entry is a second stream fetched
                // beside them, not after them, so it is not added (adding it was beaten).
                larger(term(stream, 1), term(atomic, atomicsPerPage) + calls)
            }
        case .folioPointers:
            // unpin_folios(): an 8-byte folio pointer per entry (streamed), the head and page[1]
            // of each folio at the address the pointer gives. From jumpOrder on, that head is on
            // another memmap page, which the prefetcher does not reach: one strided RMW per folio
            // (the pointer names the head, so its miss need not wait for the last folio's load).
            if order == 0 {
                larger(streamOrCalls(), term(stream, arrayEntry))
            } else if order < jumpOrder {
                larger(term(stream, arrayEntry + 2 * perFolio), term(atomic, atomicsPerPage) + calls)
            } else {
                larger(term(stream, arrayEntry + perFolio), folioJumps(addressFromArray: true))
            }
        case .bvecWalk:
            // io_release_ubuf(): a 16-byte bvec (a quarter line) per entry on order 0, per folio
            // once io_coalesce_buffer() merged them, and the folio it names (a strided RMW per
            // folio from jumpOrder on, as for unpin-folios).
            if order == 0 {
                larger(streamOrCalls(), term(stream, 1.0 / 4))
            } else if order < jumpOrder {
                larger(term(stream, (2 + 1.0 / 4) * perFolio), term(atomic, atomicsPerPage) + calls)
            } else {
                larger(term(stream, (1 + 1.0 / 4) * perFolio), folioJumps(addressFromArray: true))
            }
        case .folioArithmetic:
            if order == 0 {
                terms += streamOrCalls()
            } else if order < jumpOrder {
                larger(term(stream, 2 * perFolio), term(atomic, atomicsPerPage) + calls)
            } else {
                larger(folioJumps(addressFromArray: false), term(stream, perFolio))
            }
        }
        // --last-ref: each lock taken costs a lock/unlock pair. The pcp lock is per CPU, never
        // contended. The lruvec and zone locks are one per node, shared by every thread: with
        // T > 1 threads every acquisition is (at worst) a handoff from another CPU, and the
        // acquisitions of all T threads are serial, so each page of one thread waits for T of
        // them (docs/last-reference.md, "What the formula predicts"):
        //     lock time = pcp × pair + (lruvec + zone) × (T = 1 ? pair : T × handoff)
        if let locks = locksPerPage, let pair = c.lockPairNs {
            add(("lock_pair_ns", pair), locks.pcp)
            if scenario.threads > 1, let handoff = c.contendedLockPairNs {
                add(("contended_lock_pair_ns", handoff), (locks.lruvec + locks.zone) * Double(scenario.threads))
            } else {
                add(("lock_pair_ns", pair), locks.lruvec + locks.zone)
            }
        }
        // The kernel's per-call work (gb_kcalls.h). Under safe-ret and retpoline+safe-ret every
        // out-of-line call returns through the Safe-RET thunk, a mispredicted return at the
        // calibrated cost (the retpoline's one indirect call per release call is not charged); the prefetcher keeps streaming and earlier RMWs retire across those
        // flushes, so the loop takes at least the larger of the thunked returns and the rest
        // (measured: charging both beats the runs). A plain call and its unlocked cmpxchg mostly
        // overlap the RMWs: only what they add to a loop of RMWs is charged (release_call_ns,
        // above). Each vmstat fold's two locked adds come on top: on the node's and the global
        // counters, which every CPU folds into, so with more than one thread each is an RMW on
        // a line another CPU also writes, whatever --sharing says (contended_atomic_ns, itself
        // measured with both CPUs hammering, so a line handed over less often costs more).
        // unpin-range folds on every THP folio (its 512 pins pass stat_threshold at once).
        if let k = kernelCalls {
            if scenario.mitigations.thunksReturns, let ns = c.kernelCallSafeRetNs {
                let rest = terms
                terms = []
                larger(rest, term(("kernel_call_safe_ret_ns", ns), k.calls))
            }
            let foldAdd: (String, Double) = scenario.threads > 1 && c.contendedAtomicNs != nil
                ? ("contended_atomic_ns", c.contendedAtomicNs!) : ("atomic_ns", c.atomicNs)
            add(foldAdd, 2 * k.vmstatFolds)
        }
        return RooflineEstimate(terms: terms, overlapped: overlapped)
    }

    public static func nsPerPage(strategy: Strategy, scenario: ScenarioKey, atomicsPerPage: Double,
                                 memmapBytes: Int, calibration: CalibrationFigures,
                                 locksPerPage: LocksPerPage? = nil) -> Double {
        estimate(strategy: strategy, scenario: scenario, atomicsPerPage: atomicsPerPage,
                 memmapBytes: memmapBytes, calibration: calibration, locksPerPage: locksPerPage).nsPerPage
    }
}

/// A roofline as the sum of its terms, so a result that beats it can say which term was wrong.
public struct RooflineEstimate: Sendable, Equatable {
    public struct Term: Sendable, Equatable {
        /// The calibration figure it charges, by its JSON name.
        public let name: String
        /// How many of it per 4 KiB page.
        public let perPage: Double
        /// Its calibrated cost, ns.
        public let ns: Double
        public var nsPerPage: Double { perPage * ns }
    }

    /// The terms charged, added.
    public let terms: [Term]
    /// Work the loop also does that runs under the charged terms (prefetched streams beside
    /// RMWs on lines in L1), listed for the record but not added.
    public var overlapped: [Term] = []
    public var nsPerPage: Double { terms.reduce(0) { $0 + $1.nsPerPage } }

    /// The calibration terms that must have been too high when a result is `gap` ns per page
    /// below the roofline beyond its CI: the largest term that alone could cover the gap, or
    /// all of them when none could.
    public func suspects(gap: Double) -> [String] {
        let covering = terms.filter { $0.nsPerPage >= gap }.max { $0.nsPerPage < $1.nsPerPage }
        return covering.map { [$0.name] } ?? terms.map(\.name)
    }
}
