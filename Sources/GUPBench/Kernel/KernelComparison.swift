import Foundation

/// The kernel's figures beside the model's for the same work on the same backing, and the
/// speedups of each large-folio backing over 4k, for the kernel and for the model.
public struct KernelComparison: Sendable {
    /// One backing: the kernel's measurement and the model loop that does corresponding work.
    public struct Row: Sendable, SameLoopRow {
        public let kernel: KernelMeasurement
        /// The path's loop for this backing (io_uring: io_release_ubuf() unpins per bvec: per
        /// page on 4k, unpin-each; per folio on coalesced THP/hugetlb, unpin-range).
        public let modelStrategy: Strategy
        public let model: ResultRecord?
        /// Per-page strategies only: the same loop over a shuffled page array, i.e. descriptors
        /// visited in random order, as the kernel's struct pages are over scattered frames.
        public let modelShuffled: ResultRecord?
        /// The model's same loop (SameLoopRow; io_uring: io-uring-release, io_release_ubuf()'s
        /// bvec walk, page_folio(), out-of-line unpin_user_folio() and mod_node_page_state()).
        public let sameLoop: ResultRecord?
        /// The same loop over the virtual-order array, when `sameLoop` is the PFN-ordered one.
        public let sameLoopSequential: ResultRecord?
        var releasedAtRelease: UInt64 { kernel.vmstatReleasedAtUnregister }
    }

    /// A speedup (baseline time / candidate time) with its bootstrap 95% CI.
    public struct Speedup: Sendable {
        public let median, low, high: Double
        init(_ baseline: [Double], _ candidate: [Double]) {
            (median, low, high) = Statistics.speedup(baseline: baseline, candidate: candidate)
        }
    }

    /// A large-folio backing against 4k.
    public struct BackingSpeedup: Sendable {
        public let baseline: Backing, candidate: Backing
        /// The path whose loops the model ran (their strategies name the model's figures).
        public let path: any KernelPath
        public let kernelUnpin: Speedup, kernelPin: Speedup
        public let model: Speedup?
        /// The model's speedup with the 4k loop over a shuffled page array.
        public let modelShuffled: Speedup?
        /// Kernel unpin speedup over the model's: 1 = the model predicts the kernel's gain.
        public var kernelOverModel: Double? { model.map { kernelUnpin.median / $0.median } }
        public var kernelOverModelShuffled: Double? { modelShuffled.map { kernelUnpin.median / $0.median } }
        /// The same loop's (io-uring-release) speedup in the model, beside the kernel's.
        public let sameLoop: Speedup?
    }

    public let path: any KernelPath
    public let rows: [Row]
    public let speedups: [BackingSpeedup]

    public init(kernel: [KernelMeasurement], model: Report, path: any KernelPath = KernelPaths.ioUring) {
        self.path = path
        rows = kernel.map { k in
            let strategy = path.modelStrategy(for: k.backing)
            func find(_ layout: Layout) -> ResultRecord? {
                model.results.first {
                    $0.scenario.backing == k.backing && $0.strategy == strategy
                        && $0.scenario.threads == 1 && $0.scenario.layout == layout
                }
            }
            let same = Row.sameLoop(for: k, in: model.results, lastRef: false)
            return Row(kernel: k, modelStrategy: strategy, model: find(.sequential),
                       modelShuffled: strategy == .unpinRange ? nil : find(.shuffled),
                       sameLoop: same.sameLoop, sameLoopSequential: same.sequential)
        }
        guard let base = rows.first(where: { $0.kernel.backing == .fourK }) else {
            speedups = []
            return
        }
        speedups = rows.filter { $0.kernel.backing != .fourK }.map { row in
            func speedup(_ baseline: ResultRecord?) -> Speedup? {
                guard let baseline, let candidate = row.model else { return nil }
                return Speedup(baseline.nsPerPageSamples, candidate.nsPerPageSamples)
            }
            return BackingSpeedup(
                baseline: .fourK, candidate: row.kernel.backing, path: path,
                kernelUnpin: Speedup(base.kernel.unpinNsPerPage, row.kernel.unpinNsPerPage),
                kernelPin: Speedup(base.kernel.pinNsPerPage, row.kernel.pinNsPerPage),
                model: speedup(base.model), modelShuffled: speedup(base.modelShuffled),
                sameLoop: base.sameLoop.flatMap { b in
                    row.sameLoop.map { Speedup(b.nsPerPageSamples, $0.nsPerPageSamples) }
                })
        }
    }

    /// Every cycle of every backing pinned and released at least every page.
    public var vmstatComplete: Bool { rows.allSatisfy(\.kernel.vmstatComplete) }
}

// MARK: - JSON (docs/report-schema.md: "kernel": [ { backing, pages, pin_ns_per_page, unpin_ns_per_page,
// vmstat_pins_acquired, vmstat_pins_released, ... } ])

extension KernelComparison {
    public var jsonFields: [(String, JSON)] {
        [("kernel", .array(rows.map(\.json))), ("kernel_speedups", .array(speedups.map(\.json)))]
    }
}

extension Summary {
    var json: JSON {
        .object([("median", .num(median)), ("min", .num(min)), ("max", .num(max)),
                 ("ci95_low", .num(ci95Low)), ("ci95_high", .num(ci95High)), ("cv", .num(cv))])
    }
}

extension KernelComparison.Speedup {
    var json: JSON { .object([("median", .num(median)), ("ci95_low", .num(low)), ("ci95_high", .num(high))]) }
}

extension KernelComparison.Row {
    var json: JSON {
        let k = kernel
        func modelJSON(_ record: ResultRecord?) -> JSON {
            record.map { m in
                .object([("strategy", .string(m.strategy.rawValue)), ("impl", .string(m.impl.rawValue)),
                         ("layout", .string(m.scenario.layout.rawValue)),
                         ("ns_per_page", m.nsPerPage.json), ("thp_backed_fraction", .num(m.thpBackedFraction))])
            } ?? .null
        }
        return .object(k.region.jsonHead + [
            ("pin_ns_per_page", .num(k.pin.median)),
            ("unpin_ns_per_page", .num(k.unpin.median)),
            ("vmstat_pins_acquired", .int(Int(k.vmstatPinsAcquired))),
            ("vmstat_pins_released", .int(Int(k.vmstatPinsReleased))),
            ("vmstat_released_at_register", .int(Int(k.vmstatReleasedAtRegister))),
            ("vmstat_released_at_unregister", .int(Int(k.vmstatReleasedAtUnregister))),
            ("vmstat_complete", .bool(k.vmstatComplete)),
            ("vmstat_exact", .bool(k.vmstatExact)),
            ("vmstat_proof", .string(k.vmstatProof.rawValue)),
            ("vmstat_excess", .int(Int(k.vmstatExcess))),
            ("vmstat_tolerance", .int(Int(k.vmstatTolerance))),
            ("pin", k.pin.json),
            ("unpin", k.unpin.json),
            ("pin_samples", .array(k.pinNsPerPage.map { JSON.num($0) })),
            ("unpin_samples", .array(k.unpinNsPerPage.map { JSON.num($0) })),
        ] + loopJSON + [
            ("repetitions", .int(k.pinNsPerPage.count)),
            ("warmup", .int(k.warmup)),
            ("thp_backed_fraction", .num(k.thpBackedFraction)),
            ("folio_backed_fraction", .num(k.folioBackedFraction)),
            ("folio_order", .int(k.folioOrder)),
            ("frames_adjacent_fraction", .num(k.framesAdjacentFraction)),
            ("placement", k.placement.json),
            ("cpu", .int(k.cpu)),
            ("model", modelJSON(model)),
            ("model_shuffled", modelJSON(modelShuffled)),
            ("model_over_kernel_unpin", .num(model.map { $0.nsPerPage.median / k.unpin.median })),
            ("same_loop", sameLoop.map { m in
                .object([("strategy", .string(m.strategy.rawValue)),
                         ("mitigations", .string(m.scenario.mitigations.rawValue)),
                         ("descriptor_order", .string(m.scenario.layout == .pfn ? "pfn" : "virtual")),
                         ("model_ns_per_page", .object([("median", .num(m.loop.median)),
                                                        ("ci95_low", .num(m.loop.ci95Low)),
                                                        ("ci95_high", .num(m.loop.ci95High))])),
                         ("model_release_ns_per_page", .num(m.nsPerPage.median)),
                         ("model_first_entry_release_ns",
                          .num(m.firstEntryReleaseNs.isEmpty ? nil : Statistics.median(m.firstEntryReleaseNs))),
                         ("kernel_over_model", .num(kernelOverModel)),
                         ("sequential_model_ns_per_page", .num(sameLoopSequential?.loop.median)),
                         ("kernel_over_sequential_model",
                          .num(sameLoopSequential.map { k.loop.median / $0.loop.median }))])
            } ?? .null),
            ("vmstat_other_pinning", .bool(k.vmstatOtherPinning)),
        ])
    }
}

extension KernelComparison.BackingSpeedup {
    var json: JSON {
        .object([
            ("baseline", .string(baseline.rawValue)), ("candidate", .string(candidate.rawValue)),
            ("kernel_unpin", kernelUnpin.json), ("kernel_pin", kernelPin.json),
            ("model_unpin", model?.json ?? .null),
            ("model_unpin_shuffled_baseline", modelShuffled?.json ?? .null),
            ("model_baseline_strategy", .string(path.modelStrategy(for: baseline).rawValue)),
            ("model_candidate_strategy", .string(path.modelStrategy(for: candidate).rawValue)),
            ("kernel_over_model", .num(kernelOverModel)),
            ("kernel_over_model_shuffled_baseline", .num(kernelOverModelShuffled)),
            ("same_loop_strategy", .string(path.modelStrategy.rawValue)),
            ("same_loop_model_unpin", sameLoop?.json ?? .null),
            ("kernel_over_same_loop_model", .num(sameLoop.map { kernelUnpin.median / $0.median })),
        ])
    }
}

// MARK: - Table

extension KernelComparison {
    /// Kernel and model side by side, a row per backing; then the speedups and the notes.
    public func renderTable(model: Report) -> String {
        let reps = rows.first?.kernel.pinNsPerPage.count ?? 0
        let size = rows.first.map { ByteSize.format($0.kernel.size) } ?? "-"
        var out = (model.partial.map { "PARTIAL REPORT: \($0)\n" } ?? "")
            + "gupbench kernel: \(path.words.pinnedAs), \(size) per backing, \(reps) reps\n"
            + "median ns per 4 KiB page [95% CI]; \(path.words.calls)\n\n"
        var table = TextTable(header: ["backing", "pages", "folios", "THP", "folio order", "frames adj.",
                                       "kernel pin", "kernel unpin", "model unpin",
                                       "model shuffled", "same loop seq.", "same loop", "kernel ÷ same", "vmstat acquired",
                                       "released reg+unreg", "proof"], labelColumns: 1)
        for row in rows {
            let k = row.kernel
            let modelCell = row.model.map {
                "\(Self.ci($0.nsPerPage)) \($0.strategy.shortName)"
            } ?? "-"
            table.add([
                k.backing.rawValue, String(k.pages), String(k.folios), Fmt.percent(k.thpBackedFraction),
                "\(k.folioOrder) (\(Fmt.percent(k.folioBackedFraction)))",
                k.framesAdjacentFraction.map(Fmt.percent) ?? "-",
                Self.ci(k.pin), Self.ci(k.unpin), modelCell,
                row.modelShuffled.map { Self.ci($0.nsPerPage) } ?? "-",
            ] + row.sameLoopCells + [
                String(k.vmstatPinsAcquired),
                "\(k.vmstatReleasedAtRegister)+\(k.vmstatReleasedAtUnregister)",
                k.vmstatProof.word,
            ])
        }
        out += table.rendered() + "\n"
        if !speedups.isEmpty {
            out += "\n"
            var s = TextTable(header: ["speedup", "kernel unpin", "kernel pin", "model unpin",
                                       "kernel ÷ model", "model, 4k shuffled", "kernel ÷ shuffled",
                                       "same loop model", "kernel ÷ same"],
                              labelColumns: 1)
            for x in speedups {
                s.add(["\(x.candidate.rawValue) over \(x.baseline.rawValue)",
                       Fmt.speedup(x.kernelUnpin.median, x.kernelUnpin.low, x.kernelUnpin.high),
                       Fmt.speedup(x.kernelPin.median, x.kernelPin.low, x.kernelPin.high),
                       x.model.map { Fmt.speedup($0.median, $0.low, $0.high) } ?? "-",
                       x.kernelOverModel.map { Fmt.ratio($0) + "x" } ?? "-",
                       x.modelShuffled.map { Fmt.speedup($0.median, $0.low, $0.high) } ?? "-",
                       x.kernelOverModelShuffled.map { Fmt.ratio($0) + "x" } ?? "-",
                       x.sameLoop.map { Fmt.speedup($0.median, $0.low, $0.high) } ?? "-",
                       x.sameLoop.map { Fmt.ratio(x.kernelUnpin.median / $0.median) + "x" } ?? "-"])
            }
            out += s.rendered() + "\n"
        }
        out += "\n" + notes.map { "note: " + $0 }.joined(separator: "\n") + "\n"
        return out
    }

    static func ci(_ s: Summary) -> String {
        (s.noisy ? "~" : "") + "\(Fmt.ns(s.median)) [\(Fmt.ns(s.ci95Low))-\(Fmt.ns(s.ci95High))]"
    }

    var notes: [String] {
        var lines = [
            "vmstat = smallest per-cycle delta of /proc/vmstat nr_foll_pin_acquired/released; "
            + "system-wide, so other processes' pins may add a little",
            path.words.releaseNote,
            "model unpin: one thread, 'each' = unpin-each (unpin_user_page() per page), 'range' = "
            + "unpin-range (folio arithmetic), on a region of the same size and backing",
            "model shuffled: unpin-each over a shuffled page array, descriptors in random order: "
            + "what per-page release costs when the descriptors are scattered; frames adj. = share "
            + "of neighbouring pages at consecutive page frames (/proc/self/pagemap), i.e. how "
            + "scattered the kernel's own struct pages for this region are",
        ]
        if rows.contains(where: { !$0.kernel.vmstatExact }) {
            lines.append("vmstat could not be refreshed (/proc/sys/vm/stat_refresh needs root): "
                + "counts may lag by each CPU's stat threshold")
        }
        lines.append("same loop: the model's \(path.modelStrategy.rawValue) (\(path.words.sameLoop)), mitigations "
            + (rows.compactMap { $0.sameLoop?.scenario.mitigations.rawValue }.first ?? "-")
            + "; its descriptors are laid out as the kernel's ('pfn': page i's descriptor sits at its "
            + "frame in the kernel's region minus the lowest frame, as the vmemmap places struct pages) "
            + "when /proc/self/pagemap shows PFNs, else in virtual order; same loop seq. = the same loop "
            + "over descriptors in virtual order; kernel ÷ same = the kernel's loop over the model's")
        lines.append(Row.loopNote(release: path.words.releaseNoun))
        for row in rows where !row.kernel.vmstatComplete {
            lines.append("SHORT: \(row.kernel.backing.rawValue): a cycle's vmstat delta fell short of "
                + "the \(row.kernel.pages) pages; the kernel did not pin or unpin them all")
        }
        for row in rows where row.kernel.vmstatProof == .otherPinning {
            lines.append("OTHERS: \(row.kernel.backing.rawValue): a cycle's vmstat delta exceeded the "
                + "\(row.kernel.pages) pages by \(row.kernel.vmstatExcess) (tolerance "
                + "\(row.kernel.vmstatTolerance)): other pinning during the run; its timings shared the machine")
        }
        return lines
    }
}
