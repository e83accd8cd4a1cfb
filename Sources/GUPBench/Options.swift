import CShims
import Foundation

/// The named choices of SPEC §4–5. Raw values are the command-line spellings and JSON values.
public enum Backing: String, CaseIterable, Sendable, Codable {
    case fourK = "4k"
    case thp
    case hugetlb

    var cValue: Int32 {
        switch self {
        case .fourK: return Int32(GB_BACKING_4K.rawValue)
        case .thp: return Int32(GB_BACKING_THP.rawValue)
        case .hugetlb: return Int32(GB_BACKING_HUGETLB.rawValue)
        }
    }
}

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

public enum DirtyMode: String, CaseIterable, Sendable, Codable {
    case none
    case dirty
    case dirtyLock = "dirty-lock"

    var cValue: Int32 {
        switch self {
        case .none: return Int32(GB_DIRTY_NONE)
        case .dirty: return Int32(GB_DIRTY_DIRTY)
        case .dirtyLock: return Int32(GB_DIRTY_LOCK)
        }
    }
}

public enum Sharing: String, CaseIterable, Sendable, Codable {
    /// Each thread releases its own folios.
    case disjoint
    /// Thread t releases pages t, t+N, t+2N…: threads share folios and contend on their heads.
    case interleaved
}

public enum Layout: String, CaseIterable, Sendable, Codable {
    case sequential
    /// A seeded shuffle of each thread's page array.
    case shuffled
}

public enum MemPolicy: String, CaseIterable, Sendable, Codable {
    case bind
    case preferred
    case interleave

    var cValue: Int32 {
        switch self {
        case .bind: return Int32(GB_POLICY_BIND.rawValue)
        case .preferred: return Int32(GB_POLICY_PREFERRED.rawValue)
        case .interleave: return Int32(GB_POLICY_INTERLEAVE.rawValue)
        }
    }
}

public enum Impl: String, CaseIterable, Sendable, Codable {
    /// The Swift loops of `ReleaseLoops` (the product under test).
    case swift
    /// The C reference loops of `gb_loops.c`.
    case c
}

/// Run-time detection of a wrong release call (--detect); each mode includes the ones before it.
public enum DetectMode: String, CaseIterable, Sendable, Codable, Comparable {
    /// The model only.
    case off
    /// The end-of-run scan: residue of _refcount modulo the bias, _pincount against pins held.
    case audit
    /// Plus a check of the value each release's atomic returns: below zero is an underflow.
    case underflow
    /// Plus a shadow record of who holds what, naming the first wrong call as it happens.
    case ledger

    var cValue: Int32 {
        switch self {
        case .off: return Int32(GB_DETECT_OFF)
        case .audit: return Int32(GB_DETECT_AUDIT)
        case .underflow: return Int32(GB_DETECT_UNDERFLOW)
        case .ledger: return Int32(GB_DETECT_LEDGER)
        }
    }

    public static func < (a: DetectMode, b: DetectMode) -> Bool { a.cValue < b.cValue }
}

public enum OutputFormat: String, CaseIterable, Sendable, Codable {
    case table, json, csv, markdown
}

extension CaseIterable where Self: RawRepresentable, RawValue == String {
    /// "4k, thp, hugetlb": the valid spellings, for error messages.
    public static var validList: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Parses one spelling or throws a usage error naming the option, the value and the choices.
    public static func parse(_ text: String, option: String) throws -> Self {
        guard let value = Self(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
            throw GUPBenchError.usage(
                "\(option) '\(text)' is not valid; valid values: \(validList)")
        }
        return value
    }
}
