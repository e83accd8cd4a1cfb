import CShims
import Foundation

/// A real anonymous mapping of `size` bytes with its memmap of 64-byte descriptors, placed by
/// libnuma before the first touch and faulted in from the target node. Unmapped on deinit.
///
/// The corresponding C functions are `gb_region_map` (mmap, madvise, mbind, first touch) and
/// `gb_region_unmap` (munmap).
public final class MemoryRegion: @unchecked Sendable {
    private var region = gb_region()
    public let backing: Backing
    public let policy: MemPolicy
    public let node: Int

    public var size: Int { region.size }
    public var pageCount: Int { region.npages }
    /// The first descriptor of the memmap; valid while the region lives.
    public var unsafeMemmap: PagePointer { region.memmap! }
    public var unsafeData: UnsafeMutableRawPointer { region.data! }

    public init(size: Int, backing: Backing, policy: MemPolicy, node: Int) throws {
        self.backing = backing
        self.policy = policy
        self.node = node
        // An mTHP size the kernel will not give (disabled, or a larger enabled size would win):
        // refuse before mapping, naming the sysfs commands; gupbench never writes sysfs.
        if let problem = backing.environmentProblem() { throw GUPBenchError.environment(problem) }
        var err = gb_region_error()
        let rc = gb_region_map(&region, size, backing.cValue, backing.cMthpOrder, policy.cValue, Int32(node), &err)
        let call = err.call.map { String(cString: $0) } ?? "mmap"
        let sizeText = ByteSize.format(size)
        if backing == .hugetlb && call == "mmap" && rc == -ENOMEM {
            let needed = size / Int(GB_HUGE_PAGE_SIZE)
            let free = Topology.meminfo()["HugePages_Free"] ?? 0
            throw GUPBenchError.environment(
                "--backing hugetlb needs \(needed) free 2MiB huge pages for --size \(sizeText) "
                + "but HugePages_Free is \(free); reserve them with "
                + "'echo \(needed) > /proc/sys/vm/nr_hugepages'")
        }
        try checkErrno(rc, "\(call) of the \(err.what.map { String(cString: $0) } ?? "data") (\(sizeText), "
                       + "\(backing.rawValue), \(policy.rawValue) node \(node))")
    }

    /// A memmap of `descriptors` descriptors and no data (gb_region_map_memmap): the
    /// frame-spaced memmap of `--layout pfn`, placed by `policy` on `node` like a region's.
    public init(memmapOnly descriptors: Int, backing: Backing, policy: MemPolicy, node: Int) throws {
        self.backing = backing
        self.policy = policy
        self.node = node
        var err = gb_region_error()
        let rc = gb_region_map_memmap(&region, descriptors, policy.cValue, Int32(node), &err)
        try checkErrno(rc, "\(err.call.map { String(cString: $0) } ?? "mmap") of a frame-spaced memmap "
                       + "(\(descriptors) descriptors, \(ByteSize.format(descriptors * 64)), \(policy.rawValue) node \(node))")
    }

    deinit { gb_region_unmap(&region) }

    /// Whether `unmapData()` has run: the data is gone, `unsafeData` must not be used.
    public var dataUnmapped: Bool { region.data == nil && region.memmap != nil }

    /// munmap the data now, once (kernel: the pages' mappings and the mapping's references go;
    /// pages pinned elsewhere stay allocated). deinit then unmaps only the memmap, so the range is
    /// never unmapped twice (by then it may be another mapping's). Throws when munmap fails or the
    /// data is already unmapped.
    public func unmapData() throws {
        let rc = gb_region_unmap_data(&region)
        if rc == -EALREADY { throw GUPBenchError.environment("the region's data is already unmapped") }
        try checkErrno(rc, "munmap of the region's data")
    }

    /// For each 2 MiB chunk, whether one PMD-sized folio (THP or hugetlb) backs it.
    /// From /proc/self/pagemap + /proc/kpageflags where readable; otherwise from smaps'
    /// AnonHugePages, which gives only a count (then the first chunks are taken as huge).
    public func hugeChunks() -> [Bool] {
        let chunks = size / Int(GB_HUGE_PAGE_SIZE)
        guard chunks > 0 else { return [] }
        var flags = [UInt8](repeating: 0, count: chunks)
        if gb_region_huge_chunks(&region, &flags, chunks) == 0 {
            return flags.map { $0 != 0 }
        }
        if backing == .hugetlb { return Array(repeating: true, count: chunks) }
        let huge = max(0, Int(gb_smaps_anon_huge_bytes(region.data!)) / Int(GB_HUGE_PAGE_SIZE))
        return (0..<chunks).map { $0 < huge }
    }

    /// The order of the folio behind each 4 KiB page, from /proc/kpageflags head/tail runs
    /// (`gb_region_folio_orders`); nil when those files cannot be read (no CAP_SYS_ADMIN).
    public func folioOrders() -> [UInt8]? {
        var orders = [UInt8](repeating: 0, count: pageCount)
        return gb_region_folio_orders(&region, &orders) == 0 ? orders : nil
    }

    /// Reads back the node of every data page (every `stride`-th above 1 GiB) and every
    /// memmap page.
    public func verifyPlacement(maxNode: Int) -> PlacementReport {
        let stride = max(1, pageCount / 262_144)
        let slots = maxNode + 1
        func count(_ addr: UnsafeRawPointer, _ len: Int, _ stride: Int) -> ([Int], Int) {
            var counts = [Int](repeating: 0, count: slots)
            var unresolved = 0
            let sampled = gb_pages_node_counts(addr, len, stride, &counts, Int32(slots), &unresolved)
            return (counts, max(0, sampled))
        }
        let (data, dataSampled) = count(region.data!, region.size, stride)
        let (memmap, memmapSampled) = count(UnsafeRawPointer(region.memmap!),
                                            region.memmap_mapping_size, 1)
        return PlacementReport(
            policy: policy, requestedNode: policy == .interleave ? nil : node,
            dataNodePages: data, memmapNodePages: memmap, dataSampled: dataSampled,
            memmapSampled: memmapSampled, sampleStride: stride)
    }
}
