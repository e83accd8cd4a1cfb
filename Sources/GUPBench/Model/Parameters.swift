import CShims
import Foundation

/// The named choices of the command line. Raw values are the command-line spellings and JSON values.
public enum DirtyMode: String, CaseIterable, Sendable, Codable, CEnumMirror {
    typealias CValue = gb_dirty_mode
    case none
    case dirty
    case dirtyLock = "dirty-lock"
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
    /// Entries in virtual order, each pointing at its page's descriptor on a memmap spaced as the
    /// region's page frames, as the kernel's vmemmap is (PfnOrder; needs root to read
    /// /proc/self/pagemap).
    case pfn
}

public enum MemPolicy: String, CaseIterable, Sendable, Codable, CEnumMirror {
    typealias CValue = gb_policy
    case bind
    case preferred
    case interleave
}

public enum Impl: String, CaseIterable, Sendable, Codable {
    /// The Swift loops of Strategies/ (the product under test).
    case swift
    /// The C reference loops of `gb_loops.c`.
    case c
}

/// Run-time detection of a wrong release call (--detect); each mode includes the ones before it.
public enum DetectMode: String, CaseIterable, Sendable, Codable, Comparable, CEnumMirror {
    typealias CValue = gb_detect_mode
    /// The model only.
    case off
    /// The end-of-run scan: residue of _refcount modulo the bias, _pincount against pins held.
    case audit
    /// Plus a check of the value each release's atomic returns: below zero is an underflow.
    case underflow
    /// Plus a shadow record of who holds what, naming the first wrong call as it happens.
    case ledger

    public static func < (a: DetectMode, b: DetectMode) -> Bool { a.cValue.rawValue < b.cValue.rawValue }
}
