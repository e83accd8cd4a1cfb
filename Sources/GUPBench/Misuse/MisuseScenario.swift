import CShims

/// Morton's question (c): a wrong release call, in each way. A scenario is what the caller took
/// (pins, references or nothing) and which release call it then made how often; it runs on each
/// release strategy that makes that call (`strategies`).
public enum MisuseScenario: String, CaseIterable, Sendable {
    /// Pages pinned (FOLL_PIN), released with put_page(): Morton's case.
    case putPageOnPin = "put-page-on-pin"
    /// Pages referenced (FOLL_GET) once, put_page() twice.
    case doublePut = "double-put"
    /// Pages referenced (FOLL_GET), released with the unpin calls.
    case unpinOnGet = "unpin-on-get"
    /// One pin, two unpins.
    case doubleUnpin = "double-unpin"
    /// An unpin of a page never pinned.
    case unpinUnpinned = "unpin-unpinned"

    public var summary: String {
        switch self {
        case .putPageOnPin: return "pin_user_pages(), then put_page()"
        case .doublePut: return "get_user_pages() once, put_page() twice"
        case .unpinOnGet: return "get_user_pages(), then unpin_user_page(s)()"
        case .doubleUnpin: return "pin once, unpin twice"
        case .unpinUnpinned: return "unpin_user_page(s)() on a page never pinned"
        }
    }

    /// The release strategies that make this scenario's call: put_page() per entry, or the
    /// unpin calls per entry (`unpin_user_page()`) and per folio run (`unpin_user_pages()`).
    public var strategies: [Strategy] {
        switch self {
        case .putPageOnPin, .doublePut: return [.putPage]
        case .unpinOnGet, .doubleUnpin, .unpinUnpinned: return [.unpinEach, .unpinBatched]
        }
    }

    /// What the caller holds before releasing: FOLL_PIN pins, FOLL_GET references, or nothing.
    var grabbed: gb_foll? {
        switch self {
        case .putPageOnPin, .doubleUnpin: return GB_FOLL_PIN
        case .doublePut, .unpinOnGet: return GB_FOLL_GET
        case .unpinUnpinned: return nil
        }
    }

    /// How many times the caller releases every page.
    var releases: Int {
        switch self {
        case .doublePut, .doubleUnpin: return 2
        case .putPageOnPin, .unpinOnGet, .unpinUnpinned: return 1
        }
    }
}

public enum Detection: String, Sendable {
    case atCall = "at-call"
    case atAudit = "at-audit"
    case never
}
