import CShims
import Foundation

/// The system-wide FOLL_PIN counters of /proc/vmstat, per 4 KiB page
/// (kernel: `NR_FOLL_PIN_ACQUIRED` / `NR_FOLL_PIN_RELEASED`, bumped by try_grab_folio() and
/// gup_put_folio()). Other processes' pins count too.
public struct FollPinCounters: Sendable, Equatable {
    public var acquired: UInt64
    public var released: UInt64

    /// Reads both counters. With `refresh`, first folds every CPU's pending deltas
    /// (/proc/sys/vm/stat_refresh) so the read is exact rather than up to a stat threshold
    /// per CPU behind. The corresponding C functions are `gb_vmstat_refresh` and
    /// `gb_vmstat_foll_pins`.
    public static func read(refresh: Bool) throws -> FollPinCounters {
        if refresh { _ = gb_vmstat_refresh() }
        var c = FollPinCounters(acquired: 0, released: 0)
        let rc = gb_vmstat_foll_pins(&c.acquired, &c.released)
        guard rc == 0 else {
            throw GUPBenchError.environment(
                "/proc/vmstat has no nr_foll_pin_acquired/nr_foll_pin_released "
                + "(\(errnoDescription(-rc))); a kernel of 5.7 or later counts FOLL_PIN pins there")
        }
        return c
    }

    /// Whether this process may fold the per-CPU counters (root): then deltas are exact.
    public static var canRefresh: Bool { gb_vmstat_refresh() == 0 }

    public static func - (a: FollPinCounters, b: FollPinCounters) -> FollPinCounters {
        FollPinCounters(acquired: a.acquired &- b.acquired, released: a.released &- b.released)
    }
}
