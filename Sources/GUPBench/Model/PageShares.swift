import CShims

/// The page arrays each thread releases, built by `--sharing` and `--layout`.
public final class PageShares: @unchecked Sendable {
    /// arrays[t] is thread t's `struct page *` array.
    public let arrays: [UnsafeMutableBufferPointer<PagePointer>]
    /// True when every array is a run of consecutive descriptors in order (unpin-range needs it).
    public let contiguous: Bool
    /// stretches[t]: the maximal runs of consecutive descriptors in thread t's array, the only
    /// ranges a range release may be given (a replayed layout's holes and partial folios
    /// break them).
    public let stretches: [[Range<Int>]]

    public var totalPages: Int { arrays.reduce(0) { $0 + $1.count } }
    public var maxPagesPerThread: Int { arrays.map(\.count).max() ?? 0 }

    /// `.pfn` needs a frame-spaced model (PfnOrder.frameModel): its page array is the order.
    public init(model: PageModel, threads: Int, sharing: Sharing, layout: Layout,
                seed: UInt64 = 0x6775_7062) {
        precondition(layout != .pfn || model.pageArray != nil, "--layout pfn needs the frame-spaced model")
        var indexLists: [[Int]] = Array(repeating: [], count: threads)
        switch (sharing, model.pageArray) {
        case (.disjoint, nil):
            // Whole folios per thread, balanced by pages.
            let starts = model.folioStarts()
            let target = Double(model.pageCount) / Double(threads)
            var thread = 0
            for (k, start) in starts.enumerated() {
                let end = k + 1 < starts.count ? starts[k + 1] : model.pageCount
                if thread < threads - 1 && Double(start) >= target * Double(thread + 1) { thread += 1 }
                indexLists[thread].append(contentsOf: start..<end)
            }
        case (.disjoint, let list?):
            // A layout's array: cut only where the folio changes, balanced by entries.
            let target = Double(list.count) / Double(threads)
            var thread = 0
            for (k, index) in list.enumerated() {
                if thread < threads - 1 && Double(k) >= target * Double(thread + 1)
                    && gb_compound_head(model.page(index)) != gb_compound_head(model.page(list[k - 1])) {
                    thread += 1
                }
                indexLists[thread].append(index)
            }
        case (.interleaved, nil):
            for i in 0..<model.pageCount { indexLists[i % threads].append(i) }
        case (.interleaved, let list?):
            for (k, index) in list.enumerated() { indexLists[k % threads].append(index) }
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
        stretches = indexLists.map(LayoutMemmap.stretches)
        contiguous = stretches.allSatisfy { $0.count <= 1 }
    }

    deinit {
        for array in arrays { array.baseAddress.map { $0.deallocate() } }
    }
}
