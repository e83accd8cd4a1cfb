import CShims

/// The memmap of a region laid out as folios: order 9 over each 2 MiB chunk that the kernel
/// verifiably backs with one huge folio, order 0 elsewhere, unless an order is forced.
public final class PageModel: @unchecked Sendable {
    public let region: MemoryRegion
    /// Fraction of the region's 2 MiB chunks backed by a PMD-sized folio (THP or hugetlb).
    public let thpBackedFraction: Double
    /// The model's folio order: the forced one, or the order most of the region has.
    public let folioOrder: Int
    public let forcedOrder: Int?

    public var pageCount: Int { region.pageCount }
    public var memmap: PagePointer { region.unsafeMemmap }

    public static let maxOrder = 18

    public init(region: MemoryRegion, forcedOrder: Int? = nil) throws {
        self.region = region
        self.forcedOrder = forcedOrder
        let chunks = region.hugeChunks()
        let huge = chunks.filter { $0 }.count
        thpBackedFraction = chunks.isEmpty ? 0 : Double(huge) / Double(chunks.count)
        let perChunk = Int(GB_HUGE_PAGE_SIZE) / Int(GB_PAGE_SIZE)
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
        } else {
            // 4 KiB pages past the last whole chunk, and every chunk not verified huge: order 0.
            gb_memmap_init_folios(region.unsafeMemmap, 0, region.pageCount, 0)
            for (index, isHuge) in chunks.enumerated() where isHuge {
                gb_memmap_init_folios(region.unsafeMemmap, index * perChunk, perChunk, 9)
            }
            folioOrder = huge * 2 > max(1, chunks.count) ? 9 : 0
        }
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

/// The page arrays each thread releases, built by `--sharing` and `--layout`.
public final class PageShares: @unchecked Sendable {
    /// arrays[t] is thread t's `struct page *` array.
    public let arrays: [UnsafeMutableBufferPointer<PagePointer>]
    /// True when every array is a run of consecutive descriptors in order (unpin-range needs it).
    public let contiguous: Bool

    public var totalPages: Int { arrays.reduce(0) { $0 + $1.count } }
    public var maxPagesPerThread: Int { arrays.map(\.count).max() ?? 0 }

    public init(model: PageModel, threads: Int, sharing: Sharing, layout: Layout, seed: UInt64 = 0x6775_7062) {
        var indexLists: [[Int]] = Array(repeating: [], count: threads)
        switch sharing {
        case .disjoint:
            // Whole folios per thread, balanced by pages.
            let starts = model.folioStarts()
            let target = Double(model.pageCount) / Double(threads)
            var thread = 0
            for (k, start) in starts.enumerated() {
                let end = k + 1 < starts.count ? starts[k + 1] : model.pageCount
                if thread < threads - 1 && Double(start) >= target * Double(thread + 1) { thread += 1 }
                indexLists[thread].append(contentsOf: start..<end)
            }
        case .interleaved:
            for i in 0..<model.pageCount { indexLists[i % threads].append(i) }
        }
        if layout == .shuffled {
            for t in 0..<threads {
                var rng = SplitMix64(seed: seed &+ UInt64(t))
                indexLists[t].shuffle(using: &rng)
            }
        }
        arrays = indexLists.map { list in
            let buffer = UnsafeMutableBufferPointer<PagePointer>.allocate(capacity: max(1, list.count))
            for (k, index) in list.enumerated() { buffer[k] = model.page(index) }
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<list.count])
        }
        contiguous = indexLists.allSatisfy { list in
            zip(list, list.dropFirst()).allSatisfy { $1 == $0 + 1 }
        }
    }

    deinit {
        for array in arrays { array.baseAddress.map { $0.deallocate() } }
    }
}

/// A small seeded generator so shuffles and bootstraps repeat exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
