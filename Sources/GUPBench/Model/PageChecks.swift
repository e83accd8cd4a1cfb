import Foundation

/// Whether this kernel checks each page it frees (mm/page_alloc.c `is_check_pages_enabled()`):
/// always with CONFIG_DEBUG_VM, and otherwise when a page debugging or hardening option is on,
/// as mm/mm_init.c `mem_debugging_and_hardening_init()` decides: init_on_alloc, init_on_free,
/// debug_pagealloc or page poisoning. With checks on, `free_pages_prepare()` calls `bad_page()`
/// on a folio freed still mapped ("nonzero mapcount", "nonzero large_mapcount") or with a
/// `_pincount` left ("nonzero pincount"), and the folio is leaked instead of freed; with checks
/// off it is freed as it is: under a live mapping that is a use-after-free.
public struct PageChecks: Sendable, Equatable {
    public var enabled: Bool
    /// What turned them on, what kept them off, or what could not be read.
    public var because: String

    public static let off = PageChecks(enabled: false, because: "set so")
    public static let on = PageChecks(enabled: true, because: "set so")

    /// "on (init_on_free=1)", "off (no CONFIG_DEBUG_VM, …)" for reports.
    public var summary: String { (enabled ? "on" : "off") + " (\(because))" }

    /// This kernel's, from /proc/cmdline and /proc/config.gz (read once per process).
    public static let current: PageChecks = parse(
        cmdline: (try? String(contentsOfFile: "/proc/cmdline", encoding: .utf8)) ?? "",
        config: readConfigGz())

    /// `config`: the kernel's .config text, nil when /proc/config.gz is absent or unreadable.
    static func parse(cmdline: String, config: String?) -> PageChecks {
        let words = cmdline.split(separator: "--", maxSplits: 1).first.map { $0.split(separator: " ") } ?? []
        func option(_ name: String) -> Bool? {  // kstrtobool(): 1/y/on and 0/n/off; the last one wins
            guard let value = words.last(where: { $0.hasPrefix(name + "=") })?.dropFirst(name.count + 1) else {
                return nil
            }
            switch value.lowercased() {
            case "1", "y", "yes", "on": return true
            case "0", "n", "no", "off": return false
            default: return nil
            }
        }
        guard let config else {
            let asked = ["init_on_alloc", "init_on_free", "debug_pagealloc", "page_poison"].filter { option($0) == true }
            if !asked.isEmpty { return PageChecks(enabled: true, because: asked.map { "\($0)=1" }.joined(separator: ", ")) }
            return PageChecks(enabled: false, because: "no /proc/config.gz: CONFIG_DEBUG_VM and the init_on_* "
                + "defaults unknown, taken as off; none asked for on the command line")
        }
        func set(_ symbol: String) -> Bool { config.contains("\n\(symbol)=y") || config.hasPrefix("\(symbol)=y") }
        if set("CONFIG_DEBUG_VM") { return PageChecks(enabled: true, because: "CONFIG_DEBUG_VM") }
        var reasons: [String] = []
        let poisoning = set("CONFIG_PAGE_POISONING") && option("page_poison") == true
        if poisoning { reasons.append("page_poison=1") }
        // Page poisoning turns init_on_alloc and init_on_free off.
        if !poisoning && (option("init_on_alloc") ?? set("CONFIG_INIT_ON_ALLOC_DEFAULT_ON")) {
            reasons.append("init_on_alloc")
        }
        if !poisoning && (option("init_on_free") ?? set("CONFIG_INIT_ON_FREE_DEFAULT_ON")) {
            reasons.append("init_on_free")
        }
        if set("CONFIG_DEBUG_PAGEALLOC")
            && (option("debug_pagealloc") ?? set("CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT")) {
            reasons.append("debug_pagealloc")
        }
        if !reasons.isEmpty { return PageChecks(enabled: true, because: reasons.joined(separator: ", ")) }
        return PageChecks(enabled: false, because: "no CONFIG_DEBUG_VM, init_on_alloc, init_on_free, "
            + "debug_pagealloc or page_poison")
    }

    /// /proc/config.gz through `gzip -dc` (popen: no Foundation Process, which the sanitizer runs
    /// trip over), nil when absent or unreadable.
    static func readConfigGz() -> String? {
        guard access("/proc/config.gz", R_OK) == 0, let pipe = popen("gzip -dc /proc/config.gz 2>/dev/null", "r") else {
            return nil
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, pipe)
            if n <= 0 { break }
            bytes += buffer.prefix(n)
        }
        guard pclose(pipe) == 0, !bytes.isEmpty else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
