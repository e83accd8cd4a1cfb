import CShims

/// A folio pointer (`struct folio *`: in the model, the head descriptor).
public typealias FolioArray = UnsafeMutablePointer<PagePointer>
/// A registered buffer's bvec table (`imu->bvec`, 16-byte `struct bio_vec`s).
public typealias BvecArray = UnsafeMutablePointer<gb_bvec>

/// Which array a strategy's release walks: the page array get_user_pages() filled, or what some
/// kernel callers hold instead of pages.
public enum EntryKind: String, Sendable {
    /// `struct page **` (every strategy of the 2018 thread and since).
    case pages
    /// `struct folio **`, folios[k] = page_folio(pages[k]) (mm/gup.c: unpin_folios()).
    case folios
    /// A registered io_uring buffer's bvecs (io_uring/rsrc.c: io_sqe_buffer_register()).
    case bvecs
}

/// What one release call is handed: the caller's page array and, derived from it outside any
/// timed window, the folio pointers and bvecs (nil where nobody derived them).
public struct ReleaseEntries {
    public let pages: PageArray
    public let folios: FolioArray?
    public let bvecs: BvecArray?
    public init(pages: PageArray, folios: FolioArray? = nil, bvecs: BvecArray? = nil) {
        self.pages = pages
        self.folios = folios
        self.bvecs = bvecs
    }

    /// The entries after the first `n` of the array `walks` names (the others as they are: a
    /// strategy walks one array).
    public func dropping(_ n: Int, of walks: EntryKind) -> ReleaseEntries {
        switch walks {
        case .pages: return ReleaseEntries(pages: pages + n, folios: folios, bvecs: bvecs)
        case .folios: return ReleaseEntries(pages: pages, folios: folios.map { $0 + n }, bvecs: bvecs)
        case .bvecs: return ReleaseEntries(pages: pages, folios: folios, bvecs: bvecs.map { $0 + n })
        }
    }
}

/// Owns one thread's derived arrays: the folio pointers and the bvecs registration would build
/// (coalesced to one per large folio where io_coalesce_buffer() would), made once, untimed, as a
/// caller has them before it releases. Grab and release go through here so each strategy takes
/// exactly the references it later drops.
public final class ReleaseInput: @unchecked Sendable {
    public let pageCount: Int
    public let entries: ReleaseEntries
    public let bvecCount: Int
    private let folios: FolioArray
    private let bvecs: BvecArray

    public init(pages: PageArray, count: Int) {
        pageCount = count
        folios = .allocate(capacity: max(1, count))
        bvecs = .allocate(capacity: max(1, count))
        if count > 0 {
            gb_folios_of_pages(pages, count, folios)
            bvecCount = gb_bvecs_of_pages(pages, count, bvecs)
        } else {
            bvecCount = 0
        }
        entries = ReleaseEntries(pages: pages, folios: folios, bvecs: bvecs)
    }

    deinit {
        folios.deallocate()
        bvecs.deallocate()
    }

    /// Entries `strategy`'s release walks (pages, folio pointers or bvecs).
    public func count(_ strategy: Strategy) -> Int { strategy.walks == .bvecs ? bvecCount : pageCount }

    /// Untimed: take the references `strategy` releases, recorded in the ledger when given.
    /// Folio pointers: a pin per entry on its folio; bvecs: one pin per bvec (after coalescing
    /// the kernel has dropped the other pins of each folio).
    public func grab(_ strategy: Strategy, ledger: LedgerPointer?, tally: inout gb_tally) {
        guard pageCount > 0 else { return }
        switch strategy.walks {
        case .pages: gb_grab_pages(entries.pages, pageCount, strategy.foll, ledger, &tally)
        case .folios: gb_grab_pages(folios, pageCount, strategy.foll, ledger, &tally)
        case .bvecs: gb_grab_bvecs(bvecs, bvecCount, ledger, &tally)
        }
    }

    /// Every entry `key.strategy` walks, released in calls of `batch` (the `--last-ref` loop when
    /// `free` is given). For callers outside the runner's timed window (misuse, tests, the
    /// benchmark suite); the runner builds its ReleaseCalls before the window.
    @inline(__always)
    public func release(_ key: LoopKey, batch: Int, dirty: gb_dirty_mode, ledger: LedgerPointer?,
                        free: FreeContextPointer? = nil, tally: inout gb_tally) {
        let n = count(key.strategy)
        guard n > 0 else { return }
        ReleaseRunner.release(key, entries, ReleaseCalls(count: n, batch: batch, dirty: dirty, detect: key.detect,
                                                         ledger: ledger, free: free), &tally)
    }
}
