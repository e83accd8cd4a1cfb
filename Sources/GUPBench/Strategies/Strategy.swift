import CShims

/// A release strategy: one way to drop the references a get_user_pages()/pin_user_pages() call
/// took. Everything about a strategy is in its registry entry (this type's static properties,
/// one file per strategy in this folder): its name on the command line and in reports, the
/// kernel function it mirrors, the reference kind it releases, its Swift and C loops (a walker of
/// Walkers.swift and a release call), and the memory access pattern that decides the lines its
/// floor counts. The runner, the benchmark suite and the tests iterate `Strategy.allCases`;
/// nothing else switches on a strategy.
///
/// Adding a strategy: write `Strategies/<Name>.swift` (its `static let`, loops included), add its
/// C twin (a GB_RELEASE_LOOP line on a walker) to `CShims/gb_loops.c` and its declaration to
/// gb_loops.h, and list it in `allCases` below. See docs/developing.md, "Adding a strategy".
public struct Strategy: Sendable, Hashable, CaseIterable, RawRepresentable, CustomStringConvertible {
    /// The command-line spelling and JSON value: `unpin-batched`.
    public let rawValue: String
    /// The kernel function it mirrors, for tables and the README.
    public let kernelAnalogue: String
    /// A short name for table headers: `batched`.
    public let shortName: String
    /// The kind of reference it releases (put-page drops FOLL_GET references).
    public let foll: gb_foll
    /// The strategy a report compares it against (its speedup is measured over that one).
    public let comparedWith: String?
    /// Releases contiguous descriptors (a range), so it runs only on contiguous page arrays.
    public let needsContiguousPages: Bool
    /// Consecutive entries of one folio go to one release call (a batched strategy).
    public let releasesFolioRuns: Bool
    /// What the loop reads per page, for the lines it touches (LinesTouched).
    public let access: AccessPattern
    /// The array its release walks: pages, or the folio pointers / bvecs some callers hold.
    public let walks: EntryKind
    /// Whether the kernel function has a dirtying variant (`--dirty`); without one the
    /// strategy is skipped when dirtying is asked for.
    public let dirties: Bool
    /// The Swift loop (the product under test) and its C twin (`--impl c`).
    public let swiftLoop: ReleaseLoop
    public let cLoop: ReleaseLoop
    /// The same walkers with the release that drops the last reference and frees (`--last-ref`);
    /// nil = the strategy cannot run in that mode.
    public let lastRefSwiftLoop: ReleaseLoop?
    public let lastRefCLoop: ReleaseLoop?
    /// Part of what `compare` runs when --strategies is not given (release-pages is asked for
    /// by name: it is about the last reference, docs/last-reference.md).
    public let runByDefault: Bool

    public var description: String { rawValue }
    public static func == (a: Strategy, b: Strategy) -> Bool { a.rawValue == b.rawValue }
    public func hash(into h: inout Hasher) { h.combine(rawValue) }

    /// The loop of one implementation.
    public func loop(_ impl: Impl) -> ReleaseLoop { impl == .swift ? swiftLoop : cLoop }

    /// The `--last-ref` loop of one implementation.
    public func lastRefLoop(_ impl: Impl) -> ReleaseLoop? { impl == .swift ? lastRefSwiftLoop : lastRefCLoop }


    /// The registry, in the order reports list strategies: per-page first, then batched.
    public static let allCases: [Strategy] = [.putPage, .unpinEach, .unpinBatched, .unpinRange, .releasePages,
                                              .unpinFolios, .ioUringRelease]

    /// What runs when --strategies is not given.
    public static var defaultSet: [Strategy] { allCases.filter(\.runByDefault) }

    public init?(rawValue: String) {
        guard let s = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = s
    }

    init(rawValue: String, kernelAnalogue: String, shortName: String, foll: gb_foll,
         comparedWith: String?, needsContiguousPages: Bool = false, releasesFolioRuns: Bool,
         access: AccessPattern, walks: EntryKind = .pages, dirties: Bool = true,
         swiftLoop: @escaping ReleaseLoop, cLoop: @escaping ReleaseLoop,
         lastRefSwiftLoop: ReleaseLoop? = nil, lastRefCLoop: ReleaseLoop? = nil, runByDefault: Bool = true) {
        self.lastRefSwiftLoop = lastRefSwiftLoop
        self.lastRefCLoop = lastRefCLoop
        self.runByDefault = runByDefault
        self.rawValue = rawValue
        self.kernelAnalogue = kernelAnalogue
        self.shortName = shortName
        self.foll = foll
        self.comparedWith = comparedWith
        self.needsContiguousPages = needsContiguousPages
        self.releasesFolioRuns = releasesFolioRuns
        self.access = access
        self.walks = walks
        self.dirties = dirties
        self.swiftLoop = swiftLoop
        self.cLoop = cLoop
    }
}

/// What a release loop reads, which decides the lines its floor counts (LinesTouched).
public enum AccessPattern: String, Sendable {
    /// Every entry's descriptor, reached through the page array in order (put_page() per entry,
    /// gup_folio_next()): a stream the prefetcher follows.
    case entryWalk
    /// One folio head (and its page[1]) per folio, found by folio arithmetic
    /// (gup_folio_range_next()): a jump of one folio's memmap per step.
    case folioArithmetic
    /// The folio pointer array (8 bytes per entry), and one folio head and page[1] per run of
    /// equal pointers (unpin_folios()).
    case folioPointers
    /// A 16-byte bvec per entry and the descriptor its page_folio() reads; once coalesced, one
    /// bvec, head and page[1] per folio (io_release_ubuf()).
    case bvecWalk
}

/// A release loop: it walks `calls.count` entries of the array its strategy `walks`, handing
/// `calls.batch` entries to one release call, and adds its counts to the tally.
public typealias ReleaseLoop = @Sendable (ReleaseEntries, ReleaseCalls, inout gb_tally) -> Void

/// What a release loop is given besides its entries, the same for every loop shape.
public struct ReleaseCalls {
    /// Entries to walk.
    public var count: Int
    /// Entries per release call (the last call takes what is left).
    public var batch: Int
    public let dirty: gb_dirty_mode
    public let detect: DetectMode
    /// `detect` as the C loops take it, derived once here: a ReleaseCalls is built before the
    /// timed window, so the loop call reads a field instead of deriving it inside the window.
    public let cDetect: gb_detect_mode
    /// The shadow ledger of `--detect ledger`, else nil.
    public var ledger: LedgerPointer?
    /// The worker's free path (its pcp, the node's lruvec and zone) for the `--last-ref` loops,
    /// nil for the others.
    public var free: FreeContextPointer?

    public init(count: Int, batch: Int, dirty: gb_dirty_mode = GB_DIRTY_NONE, detect: DetectMode = .off,
                ledger: LedgerPointer? = nil, free: FreeContextPointer? = nil) {
        (self.count, self.batch, self.dirty, self.detect, self.cDetect) = (count, batch, dirty, detect, detect.cValue)
        (self.ledger, self.free) = (ledger, free)
    }

    /// Runs a C twin of a release loop (CShims/gb_loops.c, its parameters GB_RELEASE_LOOP_PARAMS).
    @inline(__always)
    public func inC<Entries>(_ entries: Entries, _ tally: inout gb_tally,
                             _ loop: (Entries, Int, Int, gb_dirty_mode, gb_detect_mode, LedgerPointer?,
                                      UnsafeMutablePointer<gb_tally>, FreeContextPointer?) -> Void) {
        loop(entries, count, batch, dirty, cDetect, ledger, &tally, free)
    }
}
