import CShims
import Foundation

/// The kernel's order of a region's descriptors: its struct pages sit in the vmemmap at their
/// page frame numbers (include/asm-generic/memory_model.h: __pfn_to_page() is vmemmap + pfn),
/// so the `struct page *` array io_uring builds for a scattered 4k region (io_uring/rsrc.c:
/// io_sqe_buffer_register(), filled in virtual order by pin_user_pages_fast()) points at
/// descriptors in the frames' order, not the addresses'. The model's memmap is indexed by
/// virtual page; `--layout pfn` gives page i the descriptor at the rank of page i's PFN.
public enum PfnOrder {
    /// The region's page frame numbers, virtual page by virtual page (/proc/self/pagemap).
    public static func read(_ region: MemoryRegion) throws -> [UInt64] {
        var pfns = [UInt64](repeating: 0, count: region.pageCount)
        let rc = pfns.withUnsafeMutableBufferPointer {
            gb_pfns_read(region.unsafeData, region.pageCount, $0.baseAddress!)
        }
        switch rc {
        case 0: return pfns
        case -EPERM:
            throw GUPBenchError.environment(
                "--layout pfn needs root: without CAP_SYS_ADMIN /proc/self/pagemap hides page frame numbers")
        case -EFAULT:
            throw GUPBenchError.environment("--layout pfn: a page of the region is not present in /proc/self/pagemap")
        default:
            throw GUPBenchError.environment("--layout pfn: reading /proc/self/pagemap failed: \(errnoDescription(-rc))")
        }
    }

    /// descriptor[i]: the memmap index page i's array entry points at. The folios of each size
    /// are ranked by their first page's PFN and folio k of that size gets the descriptors of the
    /// folio at its rank (in virtual order among folios of that size), offset for offset: on
    /// 4k this is exactly the rank of page i's PFN among the region's PFNs; on a 2 MiB region
    /// each folio keeps its 512 descriptors in order; a mixed region is ranked within each
    /// folio size, so every entry still lands on a descriptor of the same folio shape.
    public static func descriptorOrder(folioStarts starts: [Int], pageCount: Int, pfns: [UInt64]) -> [Int] {
        precondition(pfns.count == pageCount)
        var bySize: [Int: [Int]] = [:]       // folio size → folio starts in virtual order
        for (k, start) in starts.enumerated() {
            let end = k + 1 < starts.count ? starts[k + 1] : pageCount
            bySize[end - start, default: []].append(start)
        }
        var descriptor = Array(0..<pageCount)
        for (size, folios) in bySize {
            let byFrame = folios.sorted { (pfns[$0], $0) < (pfns[$1], $1) }
            // The folio with the r-th lowest PFN takes the r-th slot of this size.
            for (rank, folio) in byFrame.enumerated() {
                let slot = folios[rank]
                for offset in 0..<size { descriptor[folio + offset] = slot + offset }
            }
        }
        return descriptor
    }

    /// The descriptor order of a model's region, read from the kernel (root).
    public static func descriptorOrder(_ model: PageModel) throws -> [Int] {
        descriptorOrder(folioStarts: model.folioStarts(), pageCount: model.pageCount, pfns: try read(model.region))
    }
}
