import CShims
import Foundation
import Testing
@testable import GUPBench

/// Morton's questions (a) and (c), pinned down with exact counts.
@Suite struct MisuseTests {
    struct Expected: Sendable, CustomTestStringConvertible {
        let scenario: MisuseScenario
        let strategy: Strategy
        let order: Int
        let refcountExcess: Int
        let pincount: Int
        let maybePinned: Bool
        let underflows: UInt64
        let events: MisuseEvents
        /// Detection under off, audit, underflow, ledger.
        let detected: [Detection]
        let symptom: String
        var testDescription: String { "\(scenario.rawValue) \(strategy.rawValue) order \(order)" }
    }

    static func events(_ freed: Int, _ jumped: Int, _ leaked: Int, _ pincount: Int) -> MisuseEvents {
        MisuseEvents(freedWhileMapped: freed, jumpedOverZero: jumped, leakedRefs: leaked, pincountResidue: pincount)
    }

    static let audit: [Detection] = [.never, .atAudit, .atAudit, .atCall]
    static let atCall: [Detection] = [.never, .atAudit, .atCall, .atCall]

    // 1024 pages: 1024 order-0 pages, or two order-9 folios. Residues are those of the first folio;
    // events count the whole region. The mapping holds _refcount 1 of every folio.
    static let expected: [Expected] = [
        // put_page() on a pin takes back 1 of the 1024 bias (order 0) or of the folio's refcount,
        // never _pincount (order 9).
        Expected(scenario: .putPageOnPin, strategy: .putPage, order: 0, refcountExcess: 1023, pincount: 0,
                 maybePinned: true, underflows: 0, events: events(0, 0, 1023 * 1024, 0), detected: audit,
                 symptom: "references never dropped, 1023 per page: the page outlives its unmap (leak) and looks "
                    + "maybe-dma-pinned until then"),
        Expected(scenario: .putPageOnPin, strategy: .putPage, order: 9, refcountExcess: 0, pincount: 512,
                 maybePinned: true, underflows: 0, events: events(0, 0, 0, 1024), detected: audit,
                 symptom: "`_pincount` 512 left: maybe-dma-pinned until unmap, then freed with a nonzero pincount, "
                    + "which nothing checks (page checks off)"),
        // One reference, two puts: the second lands on 0 and takes the mapping's reference.
        Expected(scenario: .doublePut, strategy: .putPage, order: 0, refcountExcess: -1, pincount: 0,
                 maybePinned: false, underflows: 0, events: events(1024, 0, 0, 0), detected: audit,
                 symptom: "`_refcount` reaches 0 while mapped: 1024 pages freed under their mapping (use-after-free)"),
        Expected(scenario: .doublePut, strategy: .putPage, order: 9, refcountExcess: -512, pincount: 0,
                 maybePinned: false, underflows: 1022, events: events(2, 0, 0, 0), detected: atCall,
                 symptom: "`_refcount` reaches 0 while mapped: 2 folios freed under their mapping (use-after-free)"),
        // An unpin of a reference: order 0 subtracts the whole bias from 2 and jumps over 0.
    ] + orderZeroUnpins(.unpinOnGet, excess: -1023) + [
        Expected(scenario: .unpinOnGet, strategy: .unpinEach, order: 9, refcountExcess: 0, pincount: -512,
                 maybePinned: false, underflows: 1024, events: events(0, 0, 0, -1024), detected: atCall,
                 symptom: negativePincount),
        Expected(scenario: .unpinOnGet, strategy: .unpinBatched, order: 9, refcountExcess: 0, pincount: -512,
                 maybePinned: false, underflows: 2, events: events(0, 0, 0, -1024), detected: atCall,
                 symptom: negativePincount),
        // Pin once, unpin twice, and unpin what was never pinned, end alike: per page the first
        // extra unpin of an order-9 folio reaches 0 and frees it while mapped; the batched extra
        // unpin subtracts 512 at once and jumps over 0.
    ] + overUnpins(.doubleUnpin) + overUnpins(.unpinUnpinned)

    static let negativePincount = "`_pincount` goes negative (-512): whenever the folio is freed, it is freed with a "
        + "nonzero pincount, which nothing checks (page checks off)"

    static func jumpedOverZero(to value: Int, _ what: String) -> String {
        "`_refcount` jumps over 0 (to \(value)): nothing is freed and the count never returns to 0, \(what)"
    }

    /// unpin-each and unpin-batched on 1024 order-0 pages: every run is one page, so both jump
    /// over 0 on every page.
    static func orderZeroUnpins(_ scenario: MisuseScenario, excess: Int) -> [Expected] {
        [Strategy.unpinEach, .unpinBatched].map {
            Expected(scenario: scenario, strategy: $0, order: 0, refcountExcess: excess, pincount: 0,
                     maybePinned: true, underflows: 1024, events: events(0, 1024, 0, 0), detected: atCall,
                     symptom: jumpedOverZero(to: excess + 1, "1024 pages leak and look maybe-dma-pinned for good "
                        + "(the count read unsigned)"))
        }
    }

    /// One unpin more than the pins taken.
    static func overUnpins(_ scenario: MisuseScenario) -> [Expected] {
        orderZeroUnpins(scenario, excess: -1024) + [
            Expected(scenario: scenario, strategy: .unpinEach, order: 9, refcountExcess: -512, pincount: -512,
                     maybePinned: false, underflows: 1024, events: events(2, 0, 0, -1024), detected: atCall,
                     symptom: "`_refcount` reaches 0 while mapped: 2 folios freed under their mapping (use-after-free); "
                        + negativePincount),
            Expected(scenario: scenario, strategy: .unpinBatched, order: 9, refcountExcess: -512, pincount: -512,
                     maybePinned: false, underflows: 2, events: events(0, 2, 0, -1024), detected: atCall,
                     symptom: jumpedOverZero(to: -511, "2 folios leak; ") + negativePincount),
        ]
    }

    @Test func everyScenarioRunsOnEachOfItsStrategiesAtBothOrders() {
        let cells = Set(Self.expected.map { "\($0.scenario.rawValue) \($0.strategy.rawValue) \($0.order)" })
        let all = MisuseScenario.allCases.flatMap { s in
            s.strategies.flatMap { st in [0, 9].map { "\(s.rawValue) \(st.rawValue) \($0)" } }
        }
        #expect(cells == Set(all))
        #expect(cells.count == Self.expected.count)
    }

    @Test(arguments: expected)
    func scenarioLeavesExactEventsAndResidueAndIsDetectedWhereExpected(_ e: Expected) throws {
        let model = try makeModel(pages: 1024, order: e.order)
        for (mode, detected) in zip(DetectMode.allCases, e.detected) {
            let o = Misuse.run(e.scenario, strategy: e.strategy, model: model, mode: mode, checks: .off)
            #expect(o.detected == detected, "\(mode.rawValue)")
            #expect(o.events == e.events, "\(mode.rawValue)")
            #expect(o.symptom == e.symptom)
            #expect(o.refcountExcess == e.refcountExcess)
            #expect(o.pincount == e.pincount)
            #expect(o.maybeDMAPinned == e.maybePinned)
            #expect(o.pagesUnbalanced == 1024)
            #expect(o.underflows == (mode >= .underflow ? e.underflows : 0), "\(mode.rawValue)")
            #expect(o.ledgerViolations == (mode == .ledger ? 1024 : 0))
            // The model is laid out afresh after each scenario.
            #expect(model.audit().unbalanced_pages == 0)
        }
    }

    @Test func ledgerNamesTheExpectedCall() throws {
        let model = try makeModel(pages: 1024, order: 0)
        let put = Misuse.run(.putPageOnPin, strategy: .putPage, model: model, mode: .ledger)
        let v = try #require(put.firstWrongCall)
        #expect(v.page_index == 0)
        #expect(v.call_made == GB_CALL_PUT_PAGE)
        #expect(v.call_expected == GB_CALL_UNPIN_USER_PAGE)
        #expect(v.pins_held == 1 && v.gets_held == 0)
        let unpinned = try #require(Misuse.run(.unpinUnpinned, strategy: .unpinBatched, model: model, mode: .ledger).firstWrongCall)
        #expect(unpinned.call_expected == GB_CALL_NONE)
    }

    /// Two threads release their halves; thread 1 calls put_page() on pinned page 1500.
    @Test func ledgerNamesPageAndThreadInAMultiThreadedRun() throws {
        let model = try makeModel(pages: 2048, order: 0)
        var ledger = gb_ledger()
        #expect(gb_ledger_init(&ledger, model.memmap, 2048) == 0)
        defer { gb_ledger_free(&ledger) }
        let all = PageList(model, indices: Array(0..<2048))
        var grab = gb_tally()
        gb_grab_pages(all.base, 2048, GB_FOLL_PIN, &ledger, &grab)
        withUnsafeMutablePointer(to: &ledger) { l in
            let lists = [PageList(model, indices: Array(0..<1024)),
                         PageList(model, indices: Array(1024..<2048).filter { $0 != 1500 })]
            let wrong = PageList(model, indices: [1500])
            let done = DispatchSemaphore(value: 0)
            let shared = UncheckedBox((lists, wrong, l))
            for t in 0..<2 {
                Thread {
                    let (lists, wrong, l) = shared.value
                    var tally = gb_tally()
                    tally.thread = Int64(t)
                    Strategy.unpinEach.release(lists[t].base, count: lists[t].count, batch: 64, detect: .ledger,
                                               ledger: l, tally: &tally)
                    if t == 1 {
                        Strategy.putPage.release(wrong.base, count: 1, batch: 1, detect: .ledger, ledger: l, tally: &tally)
                    }
                    done.signal()
                }.start()
            }
            done.wait()
            done.wait()
            #expect(l.pointee.violations == 1)
            #expect(l.pointee.first.page_index == 1500)
            #expect(l.pointee.first.thread == 1)
            #expect(l.pointee.first.call_made == GB_CALL_PUT_PAGE)
            #expect(l.pointee.first.call_expected == GB_CALL_UNPIN_USER_PAGE)
        }
        // Page 1500 keeps 1023 of its pin's 1024: the leak Jan Kara described.
        #expect(gb_ref_read_relaxed(model.page(1500)) == 1 + 1023)
        #expect(model.audit().unbalanced_pages == 1)
    }

    struct DirtyCase: Sendable, CustomTestStringConvertible {
        let order: Int
        let strategy: Strategy
        let dirty: DirtyMode
        let reads: UInt64
        let atomics: UInt64
        let locks: UInt64
        var testDescription: String { "order \(order) \(strategy.rawValue) \(dirty.rawValue)" }
    }

    @Test(arguments: [
        DirtyCase(order: 0, strategy: .unpinEach, dirty: .dirty, reads: 1, atomics: 1, locks: 0),
        DirtyCase(order: 0, strategy: .unpinBatched, dirty: .dirtyLock, reads: 1, atomics: 3, locks: 1),
        DirtyCase(order: 9, strategy: .unpinEach, dirty: .dirty, reads: 512, atomics: 1, locks: 0),
        DirtyCase(order: 9, strategy: .unpinEach, dirty: .dirtyLock, reads: 512, atomics: 3, locks: 1),
        DirtyCase(order: 9, strategy: .unpinBatched, dirty: .dirty, reads: 1, atomics: 1, locks: 0),
        DirtyCase(order: 9, strategy: .unpinBatched, dirty: .dirtyLock, reads: 1, atomics: 3, locks: 1),
    ])
    func seedDirtyLoopReadsTheHeadPerSubpageAndWritesItOncePerFolio(_ c: DirtyCase) throws {
        let model = try makeModel(pages: 512, order: c.order)
        let facts = Misuse.dirtyFacts(model: model, strategy: c.strategy, dirty: c.dirty)
        #expect(facts.flagReads == c.reads)
        #expect(facts.flagAtomics == c.atomics)
        #expect(facts.folioLocks == c.locks)
        #expect(facts.dirtyDescriptors == [0])
    }
}

/// Hands values to a Thread closure in tests; the test joins before anything is freed.
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
