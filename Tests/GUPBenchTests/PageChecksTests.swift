import CShims
import Testing
@testable import GUPBench

/// Whether the kernel checks the pages it frees (constructed /proc/cmdline and .config texts),
/// and the misuse symptoms that follow from it, exact.
@Suite struct PageChecksTests {
    static let plainConfig = """
        # CONFIG_DEBUG_VM is not set
        # CONFIG_INIT_ON_ALLOC_DEFAULT_ON is not set
        # CONFIG_INIT_ON_FREE_DEFAULT_ON is not set
        CONFIG_PAGE_POISONING=y
        CONFIG_DEBUG_PAGEALLOC=y
        """

    @Test func decidedAsMemDebuggingAndHardeningInitDoes() {
        let p = { (cmdline: String, config: String?) in PageChecks.parse(cmdline: cmdline, config: config) }
        #expect(p("quiet", Self.plainConfig).enabled == false)
        #expect(p("quiet", "\nCONFIG_DEBUG_VM=y\n") == PageChecks(enabled: true, because: "CONFIG_DEBUG_VM"))
        #expect(p("init_on_free=1", Self.plainConfig) == PageChecks(enabled: true, because: "init_on_free"))
        #expect(p("quiet", "\nCONFIG_INIT_ON_ALLOC_DEFAULT_ON=y\n").because == "init_on_alloc")
        #expect(p("init_on_alloc=0", "\nCONFIG_INIT_ON_ALLOC_DEFAULT_ON=y\n").enabled == false)
        #expect(p("debug_pagealloc=on", Self.plainConfig).because == "debug_pagealloc")
        #expect(p("debug_pagealloc=on", "").enabled == false)  // not built with CONFIG_DEBUG_PAGEALLOC
        // Page poisoning turns init_on_* off, and is itself a reason.
        #expect(p("page_poison=1 init_on_free=1", Self.plainConfig).because == "page_poison=1")
        // Words after "--" go to init, not to the kernel.
        #expect(p("quiet -- init_on_free=1", Self.plainConfig).enabled == false)
        // No .config: only what the command line asks for is known.
        #expect(p("init_on_alloc=1", nil) == PageChecks(enabled: true, because: "init_on_alloc=1"))
        #expect(p("quiet", nil).enabled == false)
    }

    /// The same misuse under a kernel with checks on: bad_page() and a leak, where checks off
    /// give a use-after-free or an unnoticed pincount.
    @Test func checksOnTurnAFreeUnderAMappingIntoABadPageAndALeak() throws {
        let small = try makeModel(pages: 1024, order: 0)
        let doublePut = Misuse.run(.doublePut, strategy: .putPage, model: small, mode: .off, checks: .on)
        #expect(doublePut.symptom == "`_refcount` reaches 0 while mapped: 1024 pages: bad_page() (\"nonzero mapcount\") "
            + "at the free, and the page leaks")
        let large = try makeModel(pages: 1024, order: 9)
        let largePut = Misuse.run(.doublePut, strategy: .putPage, model: large, mode: .off, checks: .on)
        #expect(largePut.symptom == "`_refcount` reaches 0 while mapped: 2 folios: bad_page() (\"nonzero large_mapcount\") "
            + "at the free, and the folio leaks")
        let pinned = Misuse.run(.putPageOnPin, strategy: .putPage, model: large, mode: .off, checks: .on)
        #expect(pinned.symptom == "`_pincount` 512 left: maybe-dma-pinned until unmap, then bad_page() (\"nonzero "
            + "pincount\") at the free, and the folio leaks")
        // The events are the kernel's either way; only what the kernel then does differs.
        #expect(largePut.events == Misuse.run(.doublePut, strategy: .putPage, model: large, mode: .off, checks: .off).events)
    }
}
