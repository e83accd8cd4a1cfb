import Foundation

/// The kernel's transparent-hugepage settings for anonymous memory, read from
/// /sys/kernel/mm/transparent_hugepage (gupbench never writes there).
///
/// Which folio order a fault in a `MADV_HUGEPAGE` region gets is the kernel's choice
/// (mm/memory.c: alloc_anon_folio() tries the highest order allowed by
/// thp_vma_allowable_orders() whose naturally aligned range fits the VMA, then lower ones):
/// an order is allowed for madvised memory when its `hugepages-<size>kB/enabled` says `always`
/// or `madvise`, or `inherit` while the top-level `enabled` says `always` or `madvise`
/// (mm/huge_memory.c: huge_anon_orders_{always,madvise,inherit}). Anonymous THP comes in
/// orders 2 up to the PMD order (include/linux/huge_mm.h: THP_ORDERS_ALL_ANON excludes
/// orders 0 and 1), so a `hugepages-8kB` directory, which shmem and file folios use, is not
/// offered here.
public struct THPSettings: Sendable, Equatable {
    public enum Mode: String, Sendable {
        case always, inherit, madvise, never
    }

    public static let defaultRoot = "/sys/kernel/mm/transparent_hugepage"
    /// kernel: HPAGE_PMD_ORDER on x86-64 with 4 KiB pages (2 MiB folios: --backing thp).
    public static let pmdOrder = 9

    /// The sysfs directory read.
    public let root: String
    /// Top-level `enabled`; nil when the kernel has no THP.
    public let top: Mode?
    /// `hugepages-<size>kB/enabled` by folio order, for the anonymous orders 2...pmdOrder.
    public let perOrder: [Int: Mode]

    public init(root: String, top: Mode?, perOrder: [Int: Mode]) {
        self.root = root
        self.top = top
        self.perOrder = perOrder
    }

    /// Reads the settings now (they can change while gupbench runs: read them when deciding).
    public static func read(root: String = defaultRoot) -> THPSettings {
        var perOrder: [Int: Mode] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for name in entries where name.hasPrefix("hugepages-") && name.hasSuffix("kB") {
            guard let kb = Int(name.dropFirst("hugepages-".count).dropLast(2)), kb >= 4,
                  kb.nonzeroBitCount == 1 else { continue }
            let order = (kb / 4).trailingZeroBitCount
            guard (2...pmdOrder).contains(order),
                  let mode = selected(in: "\(root)/\(name)/enabled") else { continue }
            perOrder[order] = mode
        }
        return THPSettings(root: root, top: selected(in: "\(root)/enabled"), perOrder: perOrder)
    }

    /// The bracketed choice of a sysfs selector file ("always [madvise] never").
    static func selected(in path: String) -> Mode? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"),
              open < close else { return nil }
        return Mode(rawValue: String(text[text.index(after: open)..<close]))
    }

    /// The mTHP orders this kernel offers for anonymous memory (below the PMD order).
    public var mthpOrders: [Int] { perOrder.keys.filter { $0 < Self.pmdOrder }.sorted() }

    /// The mode in force for an order (`inherit` resolved to the top-level setting).
    public func effective(_ order: Int) -> Mode {
        guard let mode = perOrder[order] else { return .never }
        return mode == .inherit ? (top ?? .never) : mode
    }

    /// Whether faults in a MADV_HUGEPAGE region may get folios of this order.
    public func allowsMadvised(_ order: Int) -> Bool {
        let mode = effective(order)
        return mode == .always || mode == .madvise
    }

    /// The sysfs file that sets an order, e.g. .../hugepages-64kB/enabled.
    public func enabledPath(_ order: Int) -> String { "\(root)/hugepages-\(4 << order)kB/enabled" }

    /// Why a madvised region would not get folios of `order`, as one line that ends with the
    /// commands that change it; nil when this order is the one the kernel will choose.
    public func problem(forOrder order: Int, option: String) -> String? {
        var commands: [String] = []
        var reasons: [String] = []
        if !allowsMadvised(order) {
            reasons.append("hugepages-\(4 << order)kB is '\(effective(order).rawValue)'")
            commands.append("echo madvise > \(enabledPath(order))")
        }
        let larger = perOrder.keys.filter { $0 > order && allowsMadvised($0) }.sorted()
        if !larger.isEmpty {
            reasons.append("the larger " + larger.map { "hugepages-\(4 << $0)kB" }.joined(separator: ", ")
                + " would win (the kernel gives a madvised region the largest enabled order that fits)")
            commands += larger.map { "echo never > \(enabledPath($0))" }
        }
        guard !commands.isEmpty else { return nil }
        return "\(option) needs \(ByteSize.format(4096 << order)) folios but "
            + reasons.joined(separator: " and ") + "; as root run: " + commands.joined(separator: "; ")
    }
}
