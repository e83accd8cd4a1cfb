import CShims
import Foundation
import Testing
@testable import GUPBench

/// The kernel's per-call work: NR_FOLL_PIN_RELEASED folded at stat_threshold with exact counter
/// values, and the calls, zero-folio tests and cmpxchgs each strategy makes.
@Suite struct KernelCallTests {
    /// mm/vmstat.c mod_node_state() with overstep_mode 0: the diff holds up to the threshold;
    /// the update that would pass it moves everything (old diff + delta) to the node and the
    /// global counter and leaves the diff at 0.
    @Test func theDiffFoldsIntoNodeAndGlobalWhenItPassesTheThreshold() {
        // stat_threshold is process-wide (this machine's, once a command ran; the kernel's
        // maximum before): the fold happens where it says.
        let threshold = Int(gb_vmstat_threshold())
        #expect(threshold >= 1 && threshold <= 125)
        var counters = gb_vmstat_counters()
        var diff: Int8 = 0
        var t = gb_tally()
        let th = threshold
        for _ in 0..<th { gb_vmstat_mod_on(&counters, &diff, 1, &t) }
        #expect(Int(diff) == th)
        #expect(counters.node == 0 && counters.global == 0)
        #expect(t.vmstat_cmpxchgs == UInt64(th) && t.vmstat_folds == 0)
        gb_vmstat_mod_on(&counters, &diff, 1, &t)  // th + 1 > th: fold
        #expect(diff == 0)
        #expect(counters.node == th + 1 && counters.global == th + 1)
        #expect(t.vmstat_folds == 1)
        // A THP run's 512 refs pass any threshold at once.
        gb_vmstat_mod_on(&counters, &diff, 3, &t)
        gb_vmstat_mod_on(&counters, &diff, 512, &t)
        #expect(diff == 0)
        #expect(counters.node == th + 1 + 515 && counters.global == counters.node)
        #expect(t.vmstat_folds == 2 && t.vmstat_cmpxchgs == UInt64(th + 3))
    }

    @Test func thresholdComesFromZoneinfoAsTheLargestOfTheNodesZones() throws {
        let path = NSTemporaryDirectory() + "gupbench-zoneinfo-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
        Node 0, zone      DMA
          vm stats threshold: 4
        Node 0, zone   Normal
          vm stats threshold: 28
        Node 1, zone   Normal
          vm stats threshold: 40
        """.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(KernelCallSettings.nodeStatThreshold(node: 0, zoneinfo: path) == 28)
        #expect(KernelCallSettings.nodeStatThreshold(node: 1, zoneinfo: path) == 40)
        #expect(KernelCallSettings.nodeStatThreshold(node: 2, zoneinfo: path) == nil)
    }

    @Test func mitigationsAutoFollowsTheVulnerabilitiesFiles() throws {
        let root = NSTemporaryDirectory() + "gupbench-vuln-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        #expect(Mitigations.running(root: root) == .off)
        try "Vulnerable: Safe RET, no microcode\n".write(toFile: root + "/spec_rstack_overflow", atomically: true, encoding: .utf8)
        #expect(Mitigations.running(root: root) == .safeRet)
        try "Mitigation: Retpolines; STIBP: disabled\n".write(toFile: root + "/spectre_v2", atomically: true, encoding: .utf8)
        #expect(Mitigations.running(root: root) == .retpolineSafeRet)
        // An Intel host: Retpolines, and no SRSO.
        try "Not affected\n".write(toFile: root + "/spec_rstack_overflow", atomically: true, encoding: .utf8)
        #expect(Mitigations.running(root: root) == .retpoline)
        #expect(try Mitigations.parseOption("retpoline+safe-ret") == .retpolineSafeRet)
        // What auto does not model is named: the Intel host's ITS return thunk, retbleed's.
        try "Mitigation: Aligned branch/return thunks\n".write(toFile: root + "/indirect_target_selection", atomically: true, encoding: .utf8)
        try "Mitigation: untrained return thunk; SMT vulnerable\n".write(toFile: root + "/retbleed", atomically: true, encoding: .utf8)
        let thunks = KernelThunks.read(root: root)
        #expect(thunks.shapes.map(\.file) == ["spectre_v2", "retbleed", "indirect_target_selection"])
        #expect(thunks.summary.contains("its_return_thunk"))
        #expect(thunks.summary.contains("retbleed_return_thunk"))
        #expect(thunks.shapes.map(\.model) == ["modelled: retpoline", "not modelled: a predicted jmp + ret, run as a plain ret",
                                               "not modelled: an aligned, predicted ret, run as a plain ret"])
        #expect(KernelThunks.read(root: root + "/none").summary == "plain calls and returns")
        #expect(throws: GUPBenchError.self) { try Mitigations.parseOption("ibrs") }
    }

    /// Per release call: one out-of-line release function and one mod_node_page_state(), one
    /// is_zero_folio() test and one cmpxchg; the same in both return flavours.
    @Test func eachStrategyMakesTheKernelsCalls() throws {
        struct Want { let calls, zeroTests: Int }
        let model9 = try makeModel(pages: 2048, order: 9)
        let model0 = try makeModel(pages: 1024, order: 0)
        let cases: [(Strategy, PageModel, Int, Want)] = [
            (.unpinEach, model0, 1024, Want(calls: 2048, zeroTests: 1024)),
            (.unpinEach, model9, 2048, Want(calls: 4096, zeroTests: 2048)),
            (.unpinBatched, model9, 2048, Want(calls: 8, zeroTests: 4)),    // gup_put_folio per folio run
            (.unpinRange, model9, 2048, Want(calls: 8, zeroTests: 4)),
            (.unpinFolios, model9, 2048, Want(calls: 8, zeroTests: 4)),     // unpin_user_folio per run
            (.ioUringRelease, model9, 2048, Want(calls: 8, zeroTests: 4)),  // one coalesced bvec per folio
            (.ioUringRelease, model0, 1024, Want(calls: 2048, zeroTests: 1024)),
            (.putPage, model0, 1024, Want(calls: 0, zeroTests: 0)),         // folio_put() is inline
        ]
        for (strategy, model, pages, want) in cases {
            for impl in Impl.allCases {
                let list = PageList(model, indices: Array(0..<pages))
                _ = grab(strategy, list)
                let t = release(strategy, impl, list, batch: pages, dirty: .none)
                let label = "\(strategy.rawValue) \(impl.rawValue) order \(model.folioOrder)"
                // gupbench's default mode is off; no test here switches the process-wide mode.
                #expect(t.kernel_calls == UInt64(want.calls), "\(label)")
                #expect(t.zero_folio_tests == UInt64(want.zeroTests), "\(label)")
                #expect(t.vmstat_cmpxchgs == UInt64(want.zeroTests), "\(label)")
                #expect(model.audit().unbalanced_pages == 0, "\(label)")
            }
        }
    }

    @Test func bothReturnFlavoursDoTheSameWork() throws {
        let model = try makeModel(pages: 512, order: 9)
        let list = PageList(model, indices: Array(0..<512))
        for mode in [GB_MITIGATION_OFF, GB_MITIGATION_SAFE_RET] {
            _ = grab(.unpinBatched, list)
            var t = gb_tally()
            _ = gb_kcall_gup_put_folio_pin(mode, model.page(0), 512, &t)
            #expect(t.kernel_calls == 2 && t.zero_folio_tests == 1 && t.atomics == 2 && t.pins_released == 512)
            #expect(model.audit().unbalanced_pages == 0)
        }
        var t = gb_tally()
        gb_kcall_release_indirect(GB_MITIGATION_RETPOLINE, &t)  // through the retpoline
        gb_kcall_release_indirect(GB_MITIGATION_RETPOLINE_SAFE_RET, &t)  // the same
        gb_kcall_release_indirect(GB_MITIGATION_SAFE_RET, &t)   // no indirect call
        #expect(t.kernel_calls == 2)
        // Which modes return through the thunk.
        #expect(Mitigations.allCases.filter(\.thunksReturns) == [.safeRet, .retpolineSafeRet])
    }
}
