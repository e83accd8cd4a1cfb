import Foundation

/// One way the real kernel pins a user region and releases it again, as `gupbench kernel`
/// measures it: how it pins (io_uring: register the region as fixed buffers), how it releases
/// (unregister, timed), how the release is proved (the FOLL_PIN counters of /proc/vmstat, see
/// VmstatProof) and which model loop it is compared with (`modelStrategy`).
///
/// The measuring loops (KernelProbe.measure, measureLastRef), the model run beside them
/// (KernelRun) and the tables are written once against this protocol, so another pinning
/// syscall plugs in by writing one conforming type and adding it to `KernelPaths.all`.
public protocol KernelPath: Sendable {
    /// The path's name in progress lines and docs, e.g. "io-uring".
    var name: String { get }
    /// The model strategy that runs this path's own release loop: every row's "same loop".
    var modelStrategy: Strategy { get }
    /// The model loop doing the corresponding release on `backing` (per page or per folio,
    /// as the path releases on that backing).
    func modelStrategy(for backing: Backing) -> Strategy
    /// nil when this process can use the path; otherwise why not and how to allow it, one line.
    func unavailableReason() -> String?
    /// Throws `.environment` when `size` of `backing` may not be pinned this way (a pin limit).
    func checkPinLimit(size: Int, backing: Backing) throws
    /// How the release is proved: the verdict on a plain run's cycles and on `--last-ref`'s
    /// (a FOLL_PIN path: VmstatProof.judge, LastRefProof.judge on the /proc/vmstat deltas).
    func judge(_ cycles: [PinCycle], pages: Int, exact: Bool, cpus: Int) -> VmstatProof
    func judge(_ cycles: [LastRefCycle], pages: Int, exact: Bool, cpus: Int) -> LastRefProof
    /// A handle that pins one region at a time.
    func makePinner() throws -> any KernelPinner
    /// How the tables and progress lines name this path's calls.
    var words: KernelPathWords { get }
}

/// Pins a whole region and releases every one of those pins; one region at a time. Release
/// must be synchronous: the kernel has unpinned before it returns, since that call is timed.
public protocol KernelPinner: AnyObject {
    /// Pins the first `bytes` of `region` (a whole number of pages).
    func pin(_ region: MemoryRegion, bytes: Int) throws
    func release() throws
}

extension KernelPinner {
    /// Pins the whole region.
    public func pin(_ region: MemoryRegion) throws { try pin(region, bytes: region.size) }
}

/// The words a path's tables use, so the tables are written once for every path.
public struct KernelPathWords: Sendable {
    /// What the region is pinned as ("io_uring fixed buffers").
    public var pinnedAs: String
    /// The verbs of the two calls ("register", "unregister") and the release as a noun.
    public var pin: String, release: String, releaseNoun: String
    /// The same verbs in progress lines ("registering", "unregistering").
    public var pinning: String, releasing: String
    /// The calls themselves, for the table's heading.
    public var calls: String
    /// The plain run's note on when the path releases which pins.
    public var releaseNote: String
    /// The kernel loop the model's `modelStrategy` mirrors, for the notes.
    public var sameLoop: String
    /// The kernel calls by which the last unpin frees a folio (`--last-ref`).
    public var lastRefChain: String
}

/// Every kernel path `gupbench kernel` runs, in order.
public enum KernelPaths {
    public static let ioUring = IoUringFixedBuffers()
    public static let all: [any KernelPath] = [ioUring]
}

extension KernelPath {
    /// Throws `.environment` when the path cannot be used, before anything is mapped.
    public func checkAvailable() throws {
        if let reason = unavailableReason() { throw GUPBenchError.environment(reason) }
    }

    /// Throws `.environment` before anything is mapped when `size` of each backing cannot be
    /// held (MemAvailable, with the kernel's side of the pinning) or pinned (`checkPinLimit`).
    public func checkResources(size: Int, backings: [Backing]) throws {
        try MemoryBudget.read().check(sizes: [size], backings: backings, shape: .init(kernel: true))
        for backing in backings { try checkPinLimit(size: size, backing: backing) }
    }

    /// The model loops a plain run compares with: each backing's loop (4k's first), then the same loop.
    public var modelStrategies: [Strategy] {
        var strategies: [Strategy] = []
        for b in [Backing.fourK, .thp] where !strategies.contains(modelStrategy(for: b)) {
            strategies.append(modelStrategy(for: b))
        }
        return strategies + [modelStrategy]
    }
}

/// What was verified about a region a kernel path pinned: its backing and folios as the page
/// model reads them (PageModel, from /proc/self/pagemap and /proc/kpageflags) and its NUMA
/// placement. The plain and the last-reference measurements both describe their region so.
public struct PinnedRegion: Sendable {
    public let backing: Backing
    public let size: Int
    public let pages: Int
    /// Folios of the region as verified (one per THP/hugetlb-backed 2 MiB chunk, else per page).
    public let folios: Int
    public let thpBackedFraction: Double
    /// Fraction of pages in verified folios of the backing's order, and the model's order.
    public let folioBackedFraction: Double
    public let folioOrder: Int
    public let placement: PlacementReport

    init(_ region: MemoryRegion, topology: Topology) throws {
        placement = region.verifyPlacement(maxNode: topology.maxNode)
        let model = try PageModel(region: region)
        (backing, size, pages, folios) = (region.backing, region.size, region.pageCount, model.folioStarts().count)
        (thpBackedFraction, folioBackedFraction, folioOrder) =
            (model.thpBackedFraction, model.folioBackedFraction, model.folioOrder)
    }

    /// The first keys of every kernel row's JSON.
    var jsonHead: [(String, JSON)] {
        [("backing", .string(backing.rawValue)), ("size_bytes", .int(size)), ("pages", .int(pages)),
         ("folios", .int(folios))]
    }
}

/// A measurement of one region by a kernel path: `m.pages` and the like read its PinnedRegion.
@dynamicMemberLookup
public protocol KernelPathMeasurement: Sendable {
    /// The path that pinned and released the region.
    var path: any KernelPath { get }
    var region: PinnedRegion { get }
    /// ns per 4 KiB page of the timed release, one per timed repetition.
    var unpinNsPerPage: [Double] { get }
    /// ns of the same release of a one-page region, one per timed repetition: the release's
    /// fixed cost (io_uring: the syscall, the resource node and the buffer table's teardown)
    /// and one unpin (KernelProbe.fixedReleaseNs).
    var fixedReleaseNs: [Double] { get }
    /// The page frames the model's same loop lays its descriptors on (nil: PFNs hidden).
    var framePfns: [UInt64]? { get }
}

extension KernelPathMeasurement {
    public subscript<T>(dynamicMember key: KeyPath<PinnedRegion, T>) -> T { region[keyPath: key] }
    public var unpin: Summary { Summary(unpinNsPerPage) }
    public var fixedRelease: Summary { Summary(fixedReleaseNs) }

    /// The kernel's release loop alone, ns per 4 KiB page: each timed release less the median
    /// fixed cost (`fixedReleaseNs`) spread over the region's pages. The model's same loop is
    /// the loop, not the syscall around it, so kernel ÷ same loop divides this.
    public var loopNsPerPage: [Double] {
        let fixed = fixedReleaseNs.isEmpty ? 0 : fixedRelease.median
        return unpinNsPerPage.map { $0 - fixed / Double(max(1, region.pages)) }
    }
    public var loop: Summary { Summary(loopNsPerPage) }

    /// The 95% CI of the loop's median with the fixed cost's own uncertainty in it: `loop`'s CI
    /// takes the fixed cost's median as exact, but on a small region of large folios (16 MiB THP:
    /// 8 folios) the release is little more than the fixed cost, and the run-to-run spread of
    /// that median is as large as the loop itself.
    public var loopCI: ClosedRange<Double> {
        KernelPathLoop.ci(loop: loop, fixed: fixedReleaseNs.isEmpty ? nil : fixedRelease, pages: region.pages)
    }
}

public enum KernelPathLoop {
    /// `loop`'s CI (ns per page) widened by how far the fixed cost's CI (ns per release) reaches
    /// from its median, spread over `pages`.
    public static func ci(loop: Summary, fixed: Summary?, pages: Int) -> ClosedRange<Double> {
        guard let f = fixed else { return loop.ci95Low...max(loop.ci95Low, loop.ci95High) }
        let n = Double(max(1, pages))
        let low = loop.ci95Low - (f.ci95High - f.median) / n
        let high = loop.ci95High + (f.median - f.ci95Low) / n
        return low...max(low, high)
    }
}
