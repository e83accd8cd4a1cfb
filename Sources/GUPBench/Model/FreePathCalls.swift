import CShims
import Foundation

/// The out-of-line calls the kernel's free path makes, site by site (`gb_free_call_site`,
/// CShims/include/gb_free.h), as the running kernel was built. The free path is a chain of real
/// functions, and of static ones its compiler may or may not have inlined; a function with a text
/// symbol in /proc/kallsyms has an out-of-line copy, and the free path is where these are called
/// from. On a kernel whose returns go through a thunk (Safe RET) each call costs what the `calls`
/// floor measures, several times an atomic: at ~40 calls per freed 4 KiB folio and one per tail
/// page of a large folio, the calls are most of what a free costs (docs/last-reference.md).
///
/// Each entry is a call the source makes at that site (mm/swap.c __folio_put(), folios_put_refs();
/// mm/memcontrol.c __mem_cgroup_uncharge(), uncharge_folio(), uncharge_batch(), memcg_uncharge();
/// mm/memcontrol-v1.c memcg1_uncharge_batch(); mm/page_counter.c page_counter_uncharge();
/// mm/page_alloc.c free_frozen_pages(), free_pages_prepare(), free_unref_folios(),
/// free_frozen_page_commit(), free_pcppages_bulk(), free_one_page(); include/linux/mm_inline.h
/// update_lru_size(); spin_lock_irqsave() and friends, which x86 does not inline). A call counts
/// when the running kernel has the symbol. Left out, so the count stays at or below the kernel's:
/// the paravirtual unlock a KVM guest's spinlocks may call, the deferred-split queue of a large
/// folio, and the memcg v1 threshold check every 128 page events.
public struct FreePathCalls: Sendable, Equatable {
    /// How often a call runs at its site.
    enum Times: Sendable {
        case once
        /// Once per page counter kind: memory, and memsw on cgroup v1.
        case perCounter
        /// Once per level and counter kind (page_counter_cancel() up to root).
        case perLevelAndCounter
    }

    /// When a call is made at all.
    enum Needs: Sendable {
        case always
        /// The memory controller is on.
        case memcg
        /// The process is below the root memcg: its css is reference-counted (root's is
        /// CSS_NO_REF) and its pages are charged to page counters.
        case chargedMemcg
        /// As `memcg`, and the LRU is the classic one: multi-gen LRU keeps its own sizes.
        case memcgClassicLRU
    }

    struct Call: Sendable {
        let symbol: String
        let site: gb_free_call_site
        var times: Times = .once
        var needs: Needs = .always
    }

    private static func call(_ symbol: String, _ site: gb_free_call_site, _ times: Times = .once,
                             _ needs: Needs = .always) -> Call {
        Call(symbol: symbol, site: site, times: times, needs: needs)
    }

    /// The free path's calls, in the order the kernel makes them.
    static let table: [Call] = [
        call("__folio_put", GB_FC_FOLIO_PUT),
        call("folios_put_refs", GB_FC_RELEASE_BATCH),
        // folio_lruvec_lock_irqsave() -> spin_lock_irqsave(); unlock_page_lruvec_irqrestore()
        call("folio_lruvec_lock_irqsave", GB_FC_LRU_LOCK),
        call("_raw_spin_lock_irqsave", GB_FC_LRU_LOCK),
        call("_raw_spin_unlock_irqrestore", GB_FC_LRU_UNLOCK),
        // lruvec_del_folio() -> update_lru_size(): mod_lruvec_state() and the zone's size
        call("__mod_lruvec_state", GB_FC_LRU_DEL),
        call("__mod_node_page_state", GB_FC_LRU_DEL),
        call("mod_memcg_lruvec_state", GB_FC_LRU_DEL, .once, .memcg),
        call("css_rstat_updated", GB_FC_LRU_DEL, .once, .memcg),
        call("__mod_zone_page_state", GB_FC_LRU_DEL),
        call("mem_cgroup_update_lru_size", GB_FC_LRU_DEL, .once, .memcgClassicLRU),
        // mem_cgroup_uncharge() / mem_cgroup_uncharge_folios()
        call("__mem_cgroup_uncharge", GB_FC_UNCHARGE_ONE, .once, .memcg),
        call("__mem_cgroup_uncharge_folios", GB_FC_UNCHARGE_FOLIOS, .once, .memcg),
        // uncharge_folio(): css_get() for a gather's first folio, css_put() for each; with
        // PREEMPT_RCU the percpu_ref's rcu_read_lock()/unlock() are calls
        call("__rcu_read_lock", GB_FC_UNCHARGE_GATHER, .once, .chargedMemcg),
        call("__rcu_read_unlock", GB_FC_UNCHARGE_GATHER, .once, .chargedMemcg),
        call("uncharge_folio", GB_FC_UNCHARGE_FOLIO, .once, .memcg),
        call("__rcu_read_lock", GB_FC_UNCHARGE_FOLIO, .once, .chargedMemcg),
        call("__rcu_read_unlock", GB_FC_UNCHARGE_FOLIO, .once, .chargedMemcg),
        // uncharge_batch(): memcg_uncharge() -> page_counter_uncharge() per counter kind ->
        // page_counter_cancel() per level; memcg1_uncharge_batch(); css_put()
        call("uncharge_batch", GB_FC_UNCHARGE_BATCH, .once, .memcg),
        call("memcg_uncharge", GB_FC_UNCHARGE_BATCH, .once, .chargedMemcg),
        call("page_counter_uncharge", GB_FC_UNCHARGE_BATCH, .perCounter, .chargedMemcg),
        call("page_counter_cancel", GB_FC_UNCHARGE_BATCH, .perLevelAndCounter, .chargedMemcg),
        call("memcg1_oom_recover", GB_FC_UNCHARGE_BATCH, .once, .chargedMemcg),
        call("memcg1_uncharge_batch", GB_FC_UNCHARGE_BATCH, .once, .memcg),
        call("count_memcg_events", GB_FC_UNCHARGE_BATCH, .once, .memcg),
        call("memcg1_check_events", GB_FC_UNCHARGE_BATCH, .once, .memcg),
        call("__rcu_read_lock", GB_FC_UNCHARGE_BATCH, .once, .chargedMemcg),
        call("__rcu_read_unlock", GB_FC_UNCHARGE_BATCH, .once, .chargedMemcg),
        // free_frozen_pages() -> __free_frozen_pages(); free_unref_folios()
        call("free_frozen_pages", GB_FC_FREE_ONE),
        call("__free_frozen_pages", GB_FC_FREE_ONE),
        call("free_unref_folios", GB_FC_FREE_BATCH),
        call("free_pages_prepare", GB_FC_PREPARE),
        call("free_tail_page_prepare", GB_FC_TAIL),
        // pcp_spin_trylock() / pcp_spin_unlock()
        call("_raw_spin_trylock", GB_FC_PCP_LOCK),
        call("_raw_spin_unlock", GB_FC_PCP_UNLOCK),
        call("free_frozen_page_commit", GB_FC_COMMIT),
        // free_pcppages_bulk() under zone->lock, __free_one_page() and NR_FREE_PAGES per folio
        call("free_pcppages_bulk", GB_FC_SPILL),
        call("_raw_spin_lock_irqsave", GB_FC_SPILL),
        call("_raw_spin_unlock_irqrestore", GB_FC_SPILL),
        call("__free_one_page", GB_FC_SPILL_FOLIO),
        call("__mod_zone_page_state", GB_FC_SPILL_FOLIO),
        // free_one_page(): zone->lock, __free_one_page()
        call("free_one_page", GB_FC_ZONE_FREE),
        call("_raw_spin_lock_irqsave", GB_FC_ZONE_FREE),
        call("_raw_spin_unlock_irqrestore", GB_FC_ZONE_FREE),
        call("__free_one_page", GB_FC_ZONE_FREE),
        call("__mod_zone_page_state", GB_FC_ZONE_FREE),
    ]

    /// Calls per site, indexed by `gb_free_call_site`.
    public let counts: [Int]
    /// Where the figures come from: "/proc/kallsyms", or why there are none.
    public let source: String

    /// None: the free path inline, as with a kernel whose symbols cannot be read.
    public static func none(_ why: String) -> FreePathCalls {
        FreePathCalls(counts: [Int](repeating: 0, count: Int(GB_FC_SITES.rawValue)), source: why)
    }

    /// The calls a kernel with these text `symbols` makes, for a process in `memcg` (nil: the
    /// memory controller off) on a classic or multi-gen LRU.
    public static func from(symbols: Set<String>, memcg: MemoryCgroup?, multiGenLRU: Bool,
                            source: String) -> FreePathCalls {
        var counts = [Int](repeating: 0, count: Int(GB_FC_SITES.rawValue))
        let levels = memcg?.levels ?? 0
        let kinds = memcg?.memsw == true ? 2 : 1
        for c in table where symbols.contains(c.symbol) {
            switch c.needs {
            case .always: break
            case .memcg: guard memcg != nil else { continue }
            case .chargedMemcg: guard levels > 0 else { continue }
            case .memcgClassicLRU: guard memcg != nil, !multiGenLRU else { continue }
            }
            let n: Int
            switch c.times {
            case .once: n = 1
            case .perCounter: n = kinds
            case .perLevelAndCounter: n = levels * kinds
            }
            counts[Int(c.site.rawValue)] += n
        }
        return FreePathCalls(counts: counts.map { min($0, Int(UInt8.max)) }, source: source)
    }

    /// The text symbols of the kernel proper in a /proc/kallsyms listing ("address type name",
    /// a module's with "\t[module]" after the name): types t and T, modules' left out.
    public static func textSymbols(kallsyms: String) -> Set<String> {
        var names = Set<String>()
        for line in kallsyms.split(separator: "\n", omittingEmptySubsequences: true) where !line.contains("\t") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count == 3, f[1] == "t" || f[1] == "T" else { continue }
            names.insert(String(f[2]))
        }
        return names
    }

    /// Whether the multi-gen LRU is on (/sys/kernel/mm/lru_gen/enabled: a mask, nonzero when on).
    static func multiGenLRU(enabled: String?) -> Bool {
        guard let text = enabled?.trimmingCharacters(in: .whitespacesAndNewlines), text.hasPrefix("0x"),
              let mask = Int(text.dropFirst(2), radix: 16) else { return false }
        return mask != 0
    }

    /// The running kernel's, for this process's memcg; none where /proc/kallsyms cannot be read.
    public static let running: FreePathCalls = {
        // Read to the end: String(contentsOfFile:) stops after kallsyms' first short read (4 KiB).
        guard let data = try? FileHandle(forReadingAtPath: "/proc/kallsyms")?.readToEnd(),
              let text = String(data: data, encoding: .utf8), !text.isEmpty else {
            return .none("none: /proc/kallsyms unreadable")
        }
        let lruGen = try? String(contentsOfFile: "/sys/kernel/mm/lru_gen/enabled", encoding: .utf8)
        return from(symbols: textSymbols(kallsyms: text), memcg: MemoryCgroup.current,
                    multiGenLRU: multiGenLRU(enabled: lruGen), source: "/proc/kallsyms")
    }()

    /// The calls of one __folio_put() of a folio of `pages` pages taken alone (io_release_ubuf()'s
    /// unpin of a folio whose last reference it holds), no spill.
    public func perFolioPut(pages: Int) -> Int {
        let sites: [gb_free_call_site] = [GB_FC_FOLIO_PUT, GB_FC_LRU_LOCK, GB_FC_LRU_UNLOCK, GB_FC_LRU_DEL,
                                          GB_FC_UNCHARGE_ONE, GB_FC_UNCHARGE_GATHER, GB_FC_UNCHARGE_FOLIO,
                                          GB_FC_UNCHARGE_BATCH, GB_FC_FREE_ONE, GB_FC_PREPARE, GB_FC_PCP_LOCK,
                                          GB_FC_PCP_UNLOCK, GB_FC_COMMIT]
        return sites.reduce(0) { $0 + counts[Int($1.rawValue)] } + (pages - 1) * counts[Int(GB_FC_TAIL.rawValue)]
    }

    /// "38 out-of-line calls per freed 4 KiB folio, +511 per 2 MiB folio (/proc/kallsyms)" for reports.
    public var summary: String {
        let one = perFolioPut(pages: 1)
        let tail = counts[Int(GB_FC_TAIL.rawValue)]
        guard counts.contains(where: { $0 > 0 }) else { return source }
        return "\(one) out-of-line calls per freed 4 KiB folio, +\(511 * tail) per 2 MiB folio (\(source))"
    }
}
