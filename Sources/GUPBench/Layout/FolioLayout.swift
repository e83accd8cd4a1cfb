import Foundation

/// One run of a layout, in virtual order. Runs carry structure only: no address, no PFN, no
/// contents, so a layout can be shared without leaking what a pagemap read could.
public enum LayoutRun: Equatable, Sendable {
    /// Pages not present (never touched, or swapped out): GUP would fault them in or fail, so
    /// they are not in the page array.
    case absent(pages: Int)
    /// Pages mapped to the shared zero page. A pin for writing breaks COW first (the pinned
    /// page would be a fresh one of unknown order) and a read pin of the zero folio takes no pin
    /// at all (mm/gup.c: try_grab_folio(), gup_put_folio() return early on is_zero_folio()), so
    /// they are counted but not in the page array either.
    case zero(pages: Int)
    /// Present pages of order-`order` folios starting at page `index` of the folio.
    /// Order 0: `pages` distinct single-page folios (index 0). Order > 0: one folio, its pages
    /// index..<index+pages in virtual order. `revisit` is the ordinal of an earlier folio this
    /// run lands in again (a folio reached twice, e.g. across a hole); nil = a new folio.
    case folio(order: Int, index: Int, pages: Int, revisit: Int?)

    public var pages: Int {
        switch self {
        case .absent(let n), .zero(let n): return n
        case .folio(_, _, let n, _): return n
        }
    }
}

/// What a capture found, kept in the layout file as `summary` and printed by `gupbench layout`.
public struct LayoutSummary: Equatable, Sendable {
    /// Virtual pages captured.
    public var pages: Int
    /// Pages with a frame behind them (the zero page included).
    public var present: Int
    /// Present pages that are the zero page.
    public var zero: Int
    /// Entries of the page array: present pages that are not the zero page.
    public var arrayPages: Int
    /// Order → folios wholly or partly captured.
    public var foliosByOrder: [Int: Int]
    /// Mean number of consecutive page-array entries sharing one folio, as gup_folio_next()
    /// groups them for one gup_put_folio() (mm/gup.c: unpin_user_pages()).
    public var meanRunLength: Double
    /// How many such runs the page array has.
    public var runs: Int

    public var foliosText: String {
        foliosByOrder.keys.sorted().map { "order \($0): \(foliosByOrder[$0]!)" }.joined(separator: ", ")
    }
}

/// The folio structure of a process's memory as `gupbench layout` captured it, run-length
/// encoded; what `--layout-file` replays.
public struct FolioLayout: Equatable, Sendable {
    public static let schema = "gupbench-layout/1"
    public static let maxOrder = 22

    public var runs: [LayoutRun]
    /// Pages of each captured mapping and what kind it is ("anonymous", "[heap]", ...), in order.
    public var mappings: [(kind: String, pages: Int)]
    public var kernel: String

    public init(runs: [LayoutRun], mappings: [(kind: String, pages: Int)], kernel: String) {
        self.runs = runs
        self.mappings = mappings
        self.kernel = kernel
    }

    public static func == (a: FolioLayout, b: FolioLayout) -> Bool {
        a.runs == b.runs && a.kernel == b.kernel && a.mappings.map(\.kind) == b.mappings.map(\.kind)
            && a.mappings.map(\.pages) == b.mappings.map(\.pages)
    }

    /// One page-array entry: which folio (ordinal, in order of first appearance) and which page.
    public struct Entry: Equatable, Sendable {
        public let folio: Int
        public let index: Int
    }

    /// The page array in virtual order and each folio's order, by ordinal.
    public func expand() -> (entries: [Entry], folioOrders: [Int]) {
        var entries: [Entry] = []
        var orders: [Int] = []
        for run in runs {
            guard case .folio(let order, let index, let pages, let revisit) = run else { continue }
            if order == 0 && revisit == nil {
                for _ in 0..<pages {
                    entries.append(Entry(folio: orders.count, index: 0))
                    orders.append(0)
                }
                continue
            }
            let folio = revisit ?? orders.count
            if revisit == nil { orders.append(order) }
            for k in 0..<pages { entries.append(Entry(folio: folio, index: index + k)) }
        }
        return (entries, orders)
    }

    public var summary: LayoutSummary {
        let (entries, orders) = expand()
        var byOrder: [Int: Int] = [:]
        for order in orders { byOrder[order, default: 0] += 1 }
        var groups = 0
        for (k, e) in entries.enumerated() where k == 0 || entries[k - 1].folio != e.folio { groups += 1 }
        let pages = runs.reduce(0) { $0 + $1.pages }
        var absent = 0, zero = 0
        for run in runs {
            if case .absent(let n) = run { absent += n }
            if case .zero(let n) = run { zero += n }
        }
        return LayoutSummary(
            pages: pages, present: pages - absent, zero: zero, arrayPages: entries.count,
            foliosByOrder: byOrder,
            meanRunLength: groups == 0 ? 0 : Double(entries.count) / Double(groups), runs: groups)
    }
}

extension LayoutSummary {
    /// Lines for a terminal: what was captured and how gup_folio_next() would group it.
    public var lines: [String] {
        [
            "pages \(pages) (\(ByteSize.format(pages * 4096))): present \(present), of which zero page \(zero); "
                + "absent \(pages - present)",
            "folios by order: \(foliosText.isEmpty ? "none" : foliosText)",
            "page array \(arrayPages) entries in \(runs) folio runs: mean run length "
                + String(format: "%.2f", meanRunLength) + " (gup_folio_next)",
        ]
    }
}
