import CShims

/// The memmap of a region laid out as folios the way the kernel really backs it: each run of pages
/// that /proc/kpageflags shows as one whole folio (head and tails at consecutive frames) becomes a
/// folio of that order, everything else order 0 (where kpageflags is unreadable: order 9 over each
/// 2 MiB chunk smaps counts as huge) — unless an order is forced; or the folios of a captured
/// layout (`--layout-file`) with its page array.
public final class PageModel: @unchecked Sendable {
    public let region: MemoryRegion
    /// Fraction of the region's 2 MiB chunks backed by a PMD-sized folio (THP or hugetlb).
    public let thpBackedFraction: Double
    /// Fraction of the pages in verified folios of the order the backing asks for (4k: order 0;
    /// thp and hugetlb: 9; an mTHP size: its order); 0 when unverifiable.
    public let folioBackedFraction: Double
    /// The model's folio order: the forced one, or the order most of the region has.
    public let folioOrder: Int
    public let forcedOrder: Int?
    /// A replayed layout's page array (descriptor indices in virtual order, absent pages left
    /// out) and the file it came from; nil for uniform memory, whose array is every descriptor.
    public let pageArray: [Int]?
    public let layoutFile: LayoutFile?

    public var pageCount: Int { region.pageCount }
    public var memmap: PagePointer { region.unsafeMemmap }

    public static let maxOrder = 18

    public init(region: MemoryRegion, forcedOrder: Int? = nil) throws {
        self.region = region
        self.forcedOrder = forcedOrder
        pageArray = nil
        layoutFile = nil
        let chunks = region.hugeChunks()
        let huge = chunks.filter { $0 }.count
        thpBackedFraction = chunks.isEmpty ? 0 : Double(huge) / Double(chunks.count)
        let perChunk = Int(GB_HUGE_PAGE_SIZE) / Int(GB_PAGE_SIZE)
        let orders = region.folioOrders()
        let requested = UInt8(region.backing.requestedOrder)
        folioBackedFraction = orders.map {
            $0.isEmpty ? 0 : Double($0.filter { $0 == requested }.count) / Double($0.count)
        } ?? 0
        if let order = forcedOrder {
            let folioPages = 1 << order
            guard (0...Self.maxOrder).contains(order) else {
                throw GUPBenchError.usage("--folio-order \(order) is out of range; valid: 0-18")
            }
            guard region.pageCount % folioPages == 0 else {
                throw GUPBenchError.usage(
                    "--size \(ByteSize.format(region.size)) is not a multiple of the "
                    + "\(ByteSize.format(folioPages * 4096)) folio of --folio-order \(order)")
            }
            gb_memmap_init_folios(region.unsafeMemmap, 0, region.pageCount, UInt32(order))
            folioOrder = order
        } else if let orders {
            var pagesOfOrder = [Int](repeating: 0, count: 256)
            var i = 0
            while i < orders.count {
                let order = Int(orders[i])
                gb_memmap_init_folios(region.unsafeMemmap, i, 1 << order, UInt32(order))
                pagesOfOrder[order] += 1 << order
                i += 1 << order
            }
            folioOrder = pagesOfOrder.indices.max { pagesOfOrder[$0] < pagesOfOrder[$1] } ?? 0
        } else {
            // 4 KiB pages past the last whole chunk, and every chunk not verified huge: order 0.
            gb_memmap_init_folios(region.unsafeMemmap, 0, region.pageCount, 0)
            for (index, isHuge) in chunks.enumerated() where isHuge {
                gb_memmap_init_folios(region.unsafeMemmap, index * perChunk, perChunk, 9)
            }
            folioOrder = huge * 2 > max(1, chunks.count) ? 9 : 0
        }
    }

    /// A captured layout on `region`'s memmap (which needs LayoutMemmap.descriptors pages).
    public init(region: MemoryRegion, layout file: LayoutFile) {
        let plan = LayoutMemmap(file.layout)
        precondition(region.pageCount >= plan.descriptors, "the region is smaller than the layout's memmap")
        self.region = region
        forcedOrder = nil
        layoutFile = file
        // Descriptors past the layout's folios stay single pages in their baseline state.
        gb_memmap_init_folios(region.unsafeMemmap, 0, region.pageCount, 0)
        plan.initialize(region.unsafeMemmap)
        pageArray = plan.entries
        var pagesByOrder: [Int: Int] = [:]
        for index in plan.entries { pagesByOrder[Int(gb_folio_order(gb_compound_head(region.unsafeMemmap + index))), default: 0] += 1 }
        let huge = pagesByOrder.filter { $0.key >= 9 }.values.reduce(0, +)
        thpBackedFraction = Double(huge) / Double(max(1, plan.entries.count))
        let asked = region.backing.requestedOrder
        folioBackedFraction = Double(pagesByOrder[asked] ?? 0) / Double(max(1, plan.entries.count))
        folioOrder = pagesByOrder.max { ($0.value, -$0.key) < ($1.value, -$1.key) }?.key ?? 0
    }

    /// `--layout pfn`: `source`'s folios on a frame-spaced memmap (PfnOrder.frameLayout), every
    /// descriptor between them a single page in its baseline state, as the kernel's memmap holds
    /// other pages' struct pages between a region's. The page array is the region's pages in
    /// virtual order; the folio figures are the source's.
    public init(frames memmap: MemoryRegion, layout: PfnOrder.FrameLayout, of source: PageModel) {
        precondition(memmap.pageCount >= layout.span, "the memmap is smaller than the frames' span")
        region = memmap
        forcedOrder = source.forcedOrder
        layoutFile = nil
        gb_memmap_init_folios(memmap.unsafeMemmap, 0, memmap.pageCount, 0)
        for (start, order) in zip(layout.folioStarts, layout.folioOrders) where order > 0 {
            gb_memmap_init_folios(memmap.unsafeMemmap, start, 1 << order, UInt32(order))
        }
        pageArray = layout.entries
        thpBackedFraction = source.thpBackedFraction
        folioBackedFraction = source.folioBackedFraction
        folioOrder = source.folioOrder
    }

    /// Descriptor `index` of the memmap.
    @inline(__always)
    public func page(_ index: Int) -> PagePointer { memmap + index }

    /// Checks every descriptor against its baseline (kernel analogue: the leak a DEBUG_VM
    /// build would notice at free time). Outside any timed window.
    public func audit() -> gb_audit_report {
        var report = gb_audit_report()
        gb_memmap_audit(memmap, pageCount, &report)
        return report
    }

    /// Start index of each folio, in order.
    func folioStarts() -> [Int] {
        var starts: [Int] = []
        var i = 0
        while i < pageCount {
            starts.append(i)
            i += Int(gb_folio_nr_pages(memmap + i))
        }
        return starts
    }
}
