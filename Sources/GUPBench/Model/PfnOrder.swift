import CShims
import Foundation

/// The kernel's placement of a region's descriptors: its struct pages sit in the vmemmap at their
/// page frame numbers (include/asm-generic/memory_model.h: __pfn_to_page() is vmemmap + pfn),
/// so the `struct page *` array io_uring builds for a 4k region (io_uring/rsrc.c:
/// io_sqe_buffer_register(), filled in virtual order by pin_user_pages_fast()) points at
/// descriptors as far apart as the region's frames are. The model's own memmap is indexed by
/// virtual page; `--layout pfn` lays the region's folios out on a second memmap, one descriptor
/// per frame of the span the region's frames cover, each at (its frame − the lowest frame), and
/// points page i's entry at its frame's descriptor: the kernel's order *and* its gaps. (Ranking
/// the frames onto the compact memmap kept the order but closed the gaps; at 1 GiB, with frames
/// spread over 16x the region's size, the gaps cost about 9 ns a page on top of the order.)
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
            throw GUPBenchError.fromErrno(rc, "--layout pfn: reading /proc/self/pagemap")
        }
    }

    /// A region's folios on a frame-spaced memmap: where each folio starts (its first frame −
    /// the lowest frame) and its order, the page array in virtual order, and the descriptors the
    /// memmap needs (the span of the frames).
    public struct FrameLayout: Sendable, Equatable {
        public let folioStarts: [Int]
        public let folioOrders: [Int]
        public let entries: [Int]
        public let span: Int
    }

    /// The frame-spaced layout of folios that start at `folioStarts` (virtual page indices) with
    /// `folioOrders`, for pages at `pfns`. A folio's pages sit at consecutive frames (the
    /// kernel's folios are physically contiguous); a folio that does not — a --folio-order forced
    /// on pages the kernel gave one by one — cannot be placed and is a usage error.
    public static func frameLayout(folioStarts: [Int], folioOrders: [Int], pfns: [UInt64]) throws -> FrameLayout {
        precondition(folioStarts.count == folioOrders.count)
        guard let lowest = pfns.min(), let highest = pfns.max() else {
            return FrameLayout(folioStarts: [], folioOrders: [], entries: [], span: 0)
        }
        for (start, order) in zip(folioStarts, folioOrders) {
            let frames = 0..<min(1 << order, pfns.count - start)
            guard frames.allSatisfy({ pfns[start + $0] == pfns[start] + UInt64($0) }) else {
                throw GUPBenchError.usage(
                    "--layout pfn places each descriptor at its page's frame, but the order-\(order) folio at "
                    + "page \(start) is not on consecutive frames (a --folio-order the kernel did not give); "
                    + "use --layout sequential or shuffled")
            }
        }
        return FrameLayout(folioStarts: folioStarts.map { Int(pfns[$0] - lowest) }, folioOrders: folioOrders,
                           entries: pfns.map { Int($0 - lowest) }, span: Int(highest - lowest) + 1)
    }

    /// `model`'s folios on a frame-spaced memmap of their own, the model `--layout pfn` runs on:
    /// at `frames` when given (the frames of another region of the same size and backing, such as
    /// the one `gupbench kernel` pinned) and the folios fit on them, else at the frames of
    /// `model`'s own region, read from the kernel (root). Its memmap is placed like the region's.
    public static func frameModel(of model: PageModel, frames: [UInt64]? = nil) throws -> PageModel {
        let starts = model.folioStarts()
        let orders = starts.map { Int(gb_folio_order(model.page($0))) }
        var layout: FrameLayout? = nil
        if let frames, frames.count == model.pageCount {
            layout = try? frameLayout(folioStarts: starts, folioOrders: orders, pfns: frames)
        }
        let chosen = try layout ?? frameLayout(folioStarts: starts, folioOrders: orders, pfns: try read(model.region))
        let memmap = try MemoryRegion(memmapOnly: chosen.span, backing: model.region.backing,
                                      policy: model.region.policy, node: model.region.node)
        return PageModel(frames: memmap, layout: chosen, of: model)
    }
}
