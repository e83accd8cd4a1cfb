import CShims
import Foundation

public enum Strategy: String, CaseIterable, Sendable, Codable {
    case putPage = "put-page"
    case unpinEach = "unpin-each"
    case unpinBatched = "unpin-batched"
    case unpinRange = "unpin-range"

    /// The kind of reference the strategy releases: put-page drops FOLL_GET references.
    public var foll: gb_foll { self == .putPage ? GB_FOLL_GET : GB_FOLL_PIN }

    /// The kernel function it mirrors, for tables and the README.
    public var kernelAnalogue: String {
        switch self {
        case .putPage: return "put_page() per page (FOLL_GET)"
        case .unpinEach: return "unpin_user_page() per page"
        case .unpinBatched: return "unpin_user_pages(): one release per folio run"
        case .unpinRange: return "unpin_user_page_range_dirty_lock(): folio arithmetic"
        }
    }

    /// Whether the strategy batches by folio (compared against unpin-each).
    var isBatched: Bool { self == .unpinBatched || self == .unpinRange }
}
