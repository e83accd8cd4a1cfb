import CShims
import Foundation
import Testing
@testable import GUPBench

/// Multi-size THP: the sysfs reading and the exit-1 line (from a fake sysfs tree), and a real
/// region verified folio by folio from /proc/kpageflags (as root, with a size switched on for the
/// test and switched back after). Serialized: one test switches hugepages-64kB for a moment,
/// and another reads that setting and then runs the command that reads it again.
@Suite(.serialized) struct MTHPTests {
    /// A sysfs tree in a temporary directory: top-level `enabled` and hugepages-<kB>kB/enabled.
    static func fakeSysfs(top: String, sizes: [Int: String]) throws -> String {
        let root = NSTemporaryDirectory() + "gupbench-thp-\(UUID().uuidString)"
        func selector(_ chosen: String, _ choices: [String]) -> String {
            choices.map { $0 == chosen ? "[\($0)]" : $0 }.joined(separator: " ") + "\n"
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try selector(top, ["always", "madvise", "never"]).write(toFile: root + "/enabled", atomically: true, encoding: .utf8)
        for (kb, mode) in sizes {
            let dir = root + "/hugepages-\(kb)kB"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try selector(mode, ["always", "inherit", "madvise", "never"])
                .write(toFile: dir + "/enabled", atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test func offersAnonymousOrdersBelowPMDOnly() throws {
        let root = try Self.fakeSysfs(top: "madvise", sizes: [8: "never", 16: "never", 64: "madvise", 1024: "never", 2048: "inherit"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let s = THPSettings.read(root: root)
        #expect(s.mthpOrders == [2, 4, 8])  // 8kB (order 1) is for shmem and files only
        #expect(s.effective(9) == .madvise)  // inherit follows the top level
        #expect(Backing.spelling(kib: 1024) == "1m")
        #expect(Backing.spelling(kib: 64) == "64k")
    }

    @Test func aLargerEnabledSizeWinsAndTheLineSaysHowToChangeIt() throws {
        let root = try Self.fakeSysfs(top: "madvise", sizes: [64: "never", 512: "always", 2048: "inherit"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let s = THPSettings.read(root: root)
        #expect(s.problem(forOrder: 4, option: "--backing 64k") ==
            "--backing 64k needs 64KiB folios but hugepages-64kB is 'never' and the larger "
            + "hugepages-512kB, hugepages-2048kB would win (the kernel gives a madvised region the "
            + "largest enabled order that fits); as root run: echo madvise > \(root)/hugepages-64kB/enabled; "
            + "echo never > \(root)/hugepages-512kB/enabled; echo never > \(root)/hugepages-2048kB/enabled")
    }

    @Test func theRequestedSizeAsTheLargestEnabledOneIsFine() throws {
        let root = try Self.fakeSysfs(top: "never", sizes: [16: "always", 64: "madvise", 2048: "inherit"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let s = THPSettings.read(root: root)
        #expect(s.problem(forOrder: 4, option: "--backing 64k") == nil)  // 16k smaller: loses
        #expect(s.problem(forOrder: 2, option: "--backing 16k")
            == "--backing 16k needs 16KiB folios but the larger hugepages-64kB would win (the kernel "
            + "gives a madvised region the largest enabled order that fits); as root run: "
            + "echo never > \(root)/hugepages-64kB/enabled")
    }

    @Test func commandsExitOneWithTheLineWhenTheSizeIsNotWhatTheKernelGives() throws {
        guard let problem = Backing.mthp(order: 4).environmentProblem() else {
            print("skipped: 64 KiB mTHP is what this kernel gives a madvised region right now")
            return
        }
        let r = try CLITests.run(["compare", "--backing", "64k", "--size", "4MiB", "--threads", "1"])
        #expect(r.status == 1)
        #expect(r.stderr == "gupbench: \(problem)\n")
    }

    /// Switches hugepages-64kB to madvise and hugepages-2048kB to never for as long as `body`
    /// runs, then puts back what was there. nil (with the reason) when that is impossible.
    static func with64kMTHP<T>(_ body: () throws -> T) throws -> (T?, String?) {
        let root = THPSettings.defaultRoot
        let small = "\(root)/hugepages-64kB/enabled", pmd = "\(root)/hugepages-2048kB/enabled"
        guard getuid() == 0 else { return (nil, "not root: cannot switch mTHP sizes") }
        guard let oldSmall = THPSettings.selected(in: small), let oldPMD = THPSettings.selected(in: pmd) else {
            return (nil, "this kernel has no hugepages-64kB and hugepages-2048kB settings")
        }
        func write(_ value: String, _ path: String) -> Bool {
            (try? value.write(toFile: path, atomically: false, encoding: .utf8)) != nil
        }
        defer {
            _ = write(oldPMD.rawValue, pmd)
            _ = write(oldSmall.rawValue, small)
        }
        guard write("madvise", small), write("never", pmd) else {
            return (nil, "writing \(small) or \(pmd) failed (read-only sysfs?)")
        }
        return (try body(), nil)
    }

    @Test func a64KiBRegionIsVerifiedAsOrderFourFolios() throws {
        let node = Topology.read().localNode
        // Everything inside the window: once hugepages-2048kB is enabled again, khugepaged may
        // collapse the madvised region into 2 MiB folios at any moment.
        let (result, skip) = try Self.with64kMTHP { () throws -> (PageModel, [UInt8])? in
            let region = try MemoryRegion(size: 8 << 20, backing: .mthp(order: 4), policy: .bind, node: node)
            guard let orders = region.folioOrders() else { return nil }
            return (try PageModel(region: region), orders)
        }
        guard let built = result else {
            print("skipped: \(skip ?? "/proc/kpageflags is not readable (no CAP_SYS_ADMIN)")")
            return
        }
        guard let (model, orders) = built else {
            print("skipped: /proc/kpageflags is not readable (no CAP_SYS_ADMIN)")
            return
        }
        let inOrderFour = orders.filter { $0 == 4 }.count
        #expect(model.folioOrder == 4)
        #expect(model.folioBackedFraction == Double(inOrderFour) / 2048)
        #expect(model.folioBackedFraction >= 0.9)
        #expect(model.thpBackedFraction == 0)
        // The memmap holds exactly the folios kpageflags showed: 16-page folios where it said so.
        var i = 0, folios = 0
        while i < 2048 {
            #expect(gb_folio_order(model.page(i)) == UInt32(orders[i]))
            i += Int(gb_folio_nr_pages(model.page(i)))
            folios += 1
        }
        #expect(folios == inOrderFour / 16 + (2048 - inOrderFour))
        #expect(model.folioStarts().count == folios)
    }
}
