import CShims
import Foundation

/// How the model's out-of-line release calls return (and call indirectly): `--mitigations`.
/// The kernel's own mode is what /sys/devices/system/cpu/vulnerabilities/ reports; `auto`
/// resolves to that (see `KernelCallSettings`).
public enum Mitigations: String, CaseIterable, Sendable, Codable, CEnumMirror {
    typealias CValue = gb_mitigation
    /// Plain call and ret.
    case off
    /// Every return of the out-of-line functions through srso_return_thunk -> srso_safe_ret
    /// (spec_rstack_overflow "Safe RET", AMD): the return-stack predictor is defeated on purpose.
    case safeRet = "safe-ret"
    /// io_buffer_unmap()'s one indirect call per release call through a retpoline (spectre_v2
    /// "Retpolines"), returns plain: what an Intel host without SRSO does (its ITS return thunk,
    /// "Aligned branch/return thunks", is a predicted ret and costs what a plain one does).
    case retpoline
    /// Both: safe-ret returns and the retpoline (an AMD host with Retpolines and Safe RET).
    case retpolineSafeRet = "retpoline+safe-ret"

    /// Whether the out-of-line functions return through the Safe-RET thunk.
    public var thunksReturns: Bool { self == .safeRet || self == .retpolineSafeRet }

    /// Makes the loops that run next use this mode (process-wide; the runner sets it per scenario).
    public func apply() { gb_set_mitigations(cValue) }

    /// What this kernel runs with, from the vulnerabilities files: the retpoline when spectre_v2
    /// says Retpolines, safe-ret returns when spec_rstack_overflow says Safe RET, both, or off.
    public static func running(root: String = "/sys/devices/system/cpu/vulnerabilities") -> Mitigations {
        func read(_ name: String) -> String { (try? String(contentsOfFile: "\(root)/\(name)", encoding: .utf8)) ?? "" }
        switch (read("spectre_v2").contains("Retpolines"), read("spec_rstack_overflow").contains("Safe RET")) {
        case (true, true): return .retpolineSafeRet
        case (true, false): return .retpoline
        case (false, true): return .safeRet
        case (false, false): return .off
        }
    }

    /// Parses `auto|off|safe-ret|retpoline|retpoline+safe-ret` (auto = `running()`).
    public static func parseOption(_ text: String) throws -> Mitigations {
        if text.trimmingCharacters(in: .whitespaces) == "auto" { return running() }
        guard let m = Mitigations(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
            throw GUPBenchError.usage("--mitigations '\(text)' is not valid; valid values: auto, \(validList)")
        }
        return m
    }
}

/// The kernel's vmstat threshold the model's NR_FOLL_PIN_RELEASED accounting folds at.
public enum KernelCallSettings {
    /// The node pagesets' stat_threshold: the largest "vm stats threshold" of the node's zones in
    /// /proc/zoneinfo (mm/vmstat.c: refresh_zone_stat_thresholds() gives per_cpu_nodestats the
    /// maximum of its zones'). nil when unreadable.
    public static func nodeStatThreshold(node: Int = 0, zoneinfo: String = "/proc/zoneinfo") -> Int? {
        guard let text = try? String(contentsOfFile: zoneinfo, encoding: .utf8) else { return nil }
        var current = -1, best: Int?
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("Node ") {
                current = Int(t.dropFirst(5).prefix { $0.isNumber }) ?? -1
            } else if current == node, t.hasPrefix("vm stats threshold:"),
                      let v = Int(t.dropFirst("vm stats threshold:".count).trimmingCharacters(in: .whitespaces)) {
                best = max(best ?? v, v)
            }
        }
        return best
    }

    /// Sets the model's threshold from this machine (the kernel's maximum, 125, if unreadable).
    @discardableResult
    public static func applyThreshold(node: Int = 0) -> Int {
        let t = nodeStatThreshold(node: node) ?? 125
        gb_vmstat_set_threshold(Int32(t))
        return Int(gb_vmstat_threshold())
    }
}
