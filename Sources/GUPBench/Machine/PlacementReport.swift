/// Where a region's pages really are, read back page by page with move_pages(2).
public struct PlacementReport: Sendable, Equatable {
    public let policy: MemPolicy
    /// The node asked for; nil for interleave (all nodes).
    public let requestedNode: Int?
    /// Pages found on each node (index = node id), data and memmap.
    public let dataNodePages: [Int]
    public let memmapNodePages: [Int]
    public let dataSampled: Int
    public let memmapSampled: Int
    /// 1 = every data page checked; k = every k-th page.
    public let sampleStride: Int

    /// Fraction of sampled data pages on the requested node (interleave: on any node).
    public var verifiedFraction: Double { Self.fraction(dataNodePages, dataSampled, requestedNode) }
    public var memmapVerifiedFraction: Double {
        Self.fraction(memmapNodePages, memmapSampled, requestedNode)
    }

    static func fraction(_ counts: [Int], _ sampled: Int, _ node: Int?) -> Double {
        guard sampled > 0 else { return 0 }
        let hits = node.map { $0 < counts.count ? counts[$0] : 0 } ?? counts.reduce(0, +)
        return Double(hits) / Double(sampled)
    }
}
