import CShims

/// What every Swift release loop shares: the detection-mode dispatch and the local tally.
///
/// Each public loop switches once on the detection mode here and runs its always-inlined body
/// with the mode as a constant, so the checks of other modes compile out of each copy. The tally
/// is a fresh local, added to the caller's at the end, so its counters stay in registers (an
/// increment through the caller's pointer would be a store the next LOCK instruction drains).
enum ReleaseLoopSupport {
    @inline(__always)
    static func run(_ detect: DetectMode, _ tally: inout gb_tally,
                    _ body: (gb_detect_mode, inout gb_tally) -> Void) {
        var local = gb_tally()
        local.thread = tally.thread
        switch detect {
        case .off, .audit: body(GB_DETECT_OFF, &local)
        case .underflow: body(GB_DETECT_UNDERFLOW, &local)
        case .ledger: body(GB_DETECT_LEDGER, &local)
        }
        tally.add(local)
    }

    /// One release per entry (put-page, unpin-each): `release` drops the entry's reference with
    /// the detection mode's check (`gb_detect_put_page` / `gb_detect_unpin_user_page`, whose
    /// underflow count stays on the release's cold branches).
    @inline(__always)
    static func perEntry(_ pages: PageArray, _ count: Int, _ batch: Int, _ dirty: gb_dirty_mode,
                         _ detect: gb_detect_mode, _ ledger: LedgerPointer?, _ call: gb_call,
                         _ t: inout gb_tally,
                         _ release: (gb_detect_mode, PagePointer, inout gb_tally) -> Void) {
        var i = 0
        while i < count {
            let end = min(i + batch, count)
            while i < end {  // one release call of `batch` entries
                gb_detect_entries(detect, ledger, pages + i, 1, call, &t)
                gb_dirty_if_clean(pages[i], dirty, &t)
                release(detect, pages[i], &t)
                i += 1
            }
        }
    }
}

extension gb_tally {
    /// Adds another tally's counts to this one (the thread stays this tally's).
    @inline(__always)
    public mutating func add(_ other: gb_tally) {
        atomics &+= other.atomics
        flag_tests &+= other.flag_tests
        flag_atomics &+= other.flag_atomics
        folio_locks &+= other.folio_locks
        pins_acquired &+= other.pins_acquired
        pins_released &+= other.pins_released
        refs_acquired &+= other.refs_acquired
        refs_released &+= other.refs_released
        underflows &+= other.underflows
        freed &+= other.freed
        freed_while_mapped &+= other.freed_while_mapped
        freed_with_pincount &+= other.freed_with_pincount
        jumped_over_zero &+= other.jumped_over_zero
        released_below_zero &+= other.released_below_zero
        kernel_calls &+= other.kernel_calls
        zero_folio_tests &+= other.zero_folio_tests
        vmstat_cmpxchgs &+= other.vmstat_cmpxchgs
        vmstat_folds &+= other.vmstat_folds
    }
}
