import CShims

/// What a misuse did to the folios of the region, from the events the release primitives record
/// (`gb_folio_put_refs()`: folio_put_refs() frees at exactly 0) and the residue the memmap keeps.
public struct MisuseEvents: Sendable, Equatable {
    /// Folios whose `_refcount` reached exactly 0 while their page table still mapped them: the
    /// kernel frees them (`__folio_put()`) under a live mapping, a use-after-free.
    public var freedWhileMapped: Int
    /// Releases that took a `_refcount` from above 0 to below 0: folio_ref_sub_and_test() is false,
    /// nothing is freed, and the count never comes back to 0: the folio leaks.
    public var jumpedOverZero: Int
    /// References above the mapping's own left on the folios: nobody drops them, so the folios
    /// outlive their unmap (a leak).
    public var leakedRefs: Int
    /// `_pincount` left in the large folios (either sign). A folio freed with it nonzero is
    /// reported by free_tail_page_prepare() ("nonzero pincount") when page checks are on
    /// (PageChecks), and leaked; with them off nothing looks.
    public var pincountResidue: Int

    public var json: JSON {
        .object([("freed_while_mapped", .int(freedWhileMapped)), ("jumped_over_zero", .int(jumpedOverZero)),
                 ("leaked_refs", .int(leakedRefs)), ("pincount_residue", .int(pincountResidue))])
    }

    /// The symptom a user of the real kernel would meet, in words, from the events alone.
    /// `folios` is the number of folios of the region, `order` their order; `refcount` the first
    /// folio's `_refcount` after the run (to quote where a jump landed), `maybePinned` whether
    /// folio_maybe_dma_pinned() is true of it; `checks` whether the kernel checks pages it frees.
    public func symptom(folios: Int, order: Int, refcount: Int, maybePinned: Bool, checks: PageChecks) -> String {
        let unit = order == 0 ? "page" : "folio"
        func count(_ n: Int) -> String { "\(n) \(unit)\(n == 1 ? "" : "s")" }
        // free_pages_prepare() with checks on: bad_page(), and the folio is not freed.
        let badPage = { (reason: String) in "bad_page() (\"\(reason)\") at the free, and the \(unit) leaks" }
        let unchecked = "which nothing checks (page checks off)"
        var parts: [String] = []
        if freedWhileMapped > 0 {
            parts.append("`_refcount` reaches 0 while mapped: " + (checks.enabled
                ? "\(count(freedWhileMapped)): " + badPage(order == 0 ? "nonzero mapcount" : "nonzero large_mapcount")
                : "\(count(freedWhileMapped)) freed under their mapping (use-after-free)"))
        }
        if jumpedOverZero > 0 {
            parts.append("`_refcount` jumps over 0 (to \(refcount)): nothing is freed and the count never "
                + "returns to 0, \(count(jumpedOverZero)) leak"
                + (maybePinned && order == 0 ? " and look maybe-dma-pinned for good (the count read unsigned)" : ""))
        }
        if leakedRefs > 0 {
            parts.append("references never dropped, \(leakedRefs / max(1, folios)) per \(unit): the \(unit) "
                + "outlives its unmap (leak)" + (maybePinned && pincountResidue == 0 ? " and looks maybe-dma-pinned until then" : ""))
        }
        if pincountResidue > 0 {
            parts.append("`_pincount` \(pincountResidue / max(1, folios)) left: maybe-dma-pinned until unmap, then "
                + (checks.enabled ? badPage("nonzero pincount") : "freed with a nonzero pincount, \(unchecked)"))
        } else if pincountResidue < 0 {
            parts.append("`_pincount` goes negative (\(pincountResidue / max(1, folios))): whenever the folio is "
                + "freed, " + (checks.enabled ? badPage("nonzero pincount")
                                              : "it is freed with a nonzero pincount, \(unchecked)"))
        }
        return parts.isEmpty ? "none: the counts balance" : parts.joined(separator: "; ")
    }
}

// In an extension so the compiler still writes the memberwise initializer (the events as
// numbers, which the tests build) instead of a hand-kept copy of it.
extension MisuseEvents {
    init(release: gb_tally, audit: gb_audit_report) {
        self.init(freedWhileMapped: Int(release.freed_while_mapped), jumpedOverZero: Int(release.jumped_over_zero),
                  leakedRefs: Int(audit.refcount_leaked), pincountResidue: Int(audit.pincount_excess))
    }
}
