import CShims
import Foundation

/// What backs the data region: 4 KiB pages, 2 MiB THP, 2 MiB hugetlb pages, or multi-size THP
/// folios of one order between 16 KiB and 1 MiB. Raw values are the command-line spellings and
/// JSON values ("4k", "thp", "hugetlb", "16k" … "1m").
public enum Backing: Hashable, Sendable, CaseIterable, RawRepresentable, Codable {
    case fourK
    case thp
    case hugetlb
    /// Anonymous multi-size THP of `order` (2 ..< 9): the region is madvised like thp, and the
    /// kernel's sysfs settings must make this order the one it chooses (see `THPSettings`).
    case mthp(order: Int)

    /// 4k, thp, hugetlb, then the mTHP sizes this kernel offers (from sysfs).
    public static var allCases: [Backing] {
        [.fourK, .thp, .hugetlb] + THPSettings.read().mthpOrders.map { .mthp(order: $0) }
    }

    public var rawValue: String {
        switch self {
        case .fourK: return "4k"
        case .thp: return "thp"
        case .hugetlb: return "hugetlb"
        case .mthp(let order): return Self.spelling(kib: 4 << order)
        }
    }

    /// Accepts "4k", "thp", "hugetlb" and the mTHP sizes this kernel offers.
    public init?(rawValue: String) {
        guard let backing = Self.any(rawValue), Self.allCases.contains(backing) else { return nil }
        self = backing
    }

    /// Any spelling of the family, offered here or not (reports from other machines).
    static func any(_ text: String) -> Backing? {
        switch text {
        case "4k": return .fourK
        case "thp": return .thp
        case "hugetlb": return .hugetlb
        default:
            for order in 2..<THPSettings.pmdOrder where spelling(kib: 4 << order) == text {
                return .mthp(order: order)
            }
            return nil
        }
    }

    static func spelling(kib: Int) -> String { kib % 1024 == 0 ? "\(kib / 1024)m" : "\(kib)k" }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let backing = Self.any(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown backing '\(text)'"))
        }
        self = backing
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The folio order the backing asks the kernel for (4k: 0).
    public var requestedOrder: Int {
        switch self {
        case .fourK: return 0
        case .thp, .hugetlb: return THPSettings.pmdOrder
        case .mthp(let order): return order
        }
    }

    /// Bytes a region size must be a multiple of: the folio size asked for.
    public var sizeUnit: Int { 4096 << requestedOrder }

    var cValue: gb_backing {
        switch self {
        case .fourK: return GB_BACKING_4K
        case .thp: return GB_BACKING_THP
        case .hugetlb: return GB_BACKING_HUGETLB
        case .mthp: return GB_BACKING_MTHP
        }
    }

    /// For GB_BACKING_MTHP: the order; else 0.
    var cMthpOrder: UInt32 {
        if case .mthp(let order) = self { return UInt32(order) }
        return 0
    }

    /// Exit-1 reason when this kernel will not give a madvised region folios of this mTHP order,
    /// with the sysfs commands that would; nil for the other backings.
    public func environmentProblem(_ settings: THPSettings = .read()) -> String? {
        guard case .mthp(let order) = self else { return nil }
        return settings.problem(forOrder: order, option: "--backing \(rawValue)")
    }
}
