import CShims

/// Where a layout's folios sit in the replay's memmap and which descriptors its page array
/// names. Folios are laid out back to back in order of first appearance, each whole (a folio
/// partly captured still has all its pages: gup_put_folio() acts on the folio), so descriptor
/// arithmetic inside a folio is exact. A new folio that follows a hole (absent or zero pages)
/// gets one spare descriptor before it, so a range never runs across a hole; folios that follow
/// one another in virtual memory with no hole are taken to follow one another physically, and a
/// range continues from one into the next where the capture covers both folio edges.
public struct LayoutMemmap: Sendable {
    /// First descriptor of each folio, by ordinal.
    public let folioStarts: [Int]
    public let folioOrders: [Int]
    /// The page array in virtual order: a descriptor index per present, non-zero page.
    public let entries: [Int]
    /// Descriptors the memmap needs.
    public let descriptors: Int

    public init(_ layout: FolioLayout) {
        var starts: [Int] = [], orders: [Int] = [], entries: [Int] = []
        var next = 0
        var afterHole = false
        /// A new folio of `order`: after a hole, one spare descriptor first.
        func place(_ order: Int) -> Int {
            if afterHole && !entries.isEmpty { next += 1 }
            afterHole = false
            starts.append(next)
            orders.append(order)
            next += 1 << order
            return starts[starts.count - 1]
        }
        for run in layout.runs {
            switch run {
            case .absent, .zero:
                afterHole = true
            case .folio(let order, let index, let pages, let revisit?):
                _ = order
                entries += (0..<pages).map { starts[revisit] + index + $0 }
                afterHole = false
            case .folio(0, _, let pages, nil):
                for _ in 0..<pages { entries.append(place(0)) }
            case .folio(let order, let index, let pages, nil):
                let start = place(order)
                entries += (0..<pages).map { start + index + $0 }
            }
        }
        folioStarts = starts
        folioOrders = orders
        descriptors = next
        self.entries = entries
    }

    /// Lays the folios out in their baseline state (gb_memmap_init_folios, one call per folio).
    public func initialize(_ memmap: PagePointer) {
        for (start, order) in zip(folioStarts, folioOrders) {
            gb_memmap_init_folios(memmap, start, 1 << order, UInt32(order))
        }
    }

    /// Maximal runs of the page array whose descriptors follow one another: what one
    /// unpin_user_page_range_dirty_lock() call may be given.
    public static func stretches(_ list: [Int]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        for k in 1...max(1, list.count) where k == list.count || list[k] != list[k - 1] + 1 {
            if k > start { result.append(start..<k) }
            start = k
        }
        return result
    }
}
