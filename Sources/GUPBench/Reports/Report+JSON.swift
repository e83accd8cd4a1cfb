import Foundation

extension Report {
    /// Schema gupbench/1, every key documented in docs/report-schema.md.
    public func json(extra: [(String, JSON)] = []) -> JSON {
        var fields: [(String, JSON)] = [
            ("schema", .string("gupbench/1")),
            ("command", .string(command)),
            ("identity_keys", .array(ResultRecord.identityKeys.map(JSON.string))),
            ("machine", machineJSON),
            ("calibration", calibrationJSON),
            ("results", .array(results.map(\.json))),
            ("comparisons", .array(comparisons.map(\.json))),
            ("skipped", .array(skipped.map(JSON.string))),
            ("partial", .bool(partial != nil)),
            ("partial_reason", partial.map(JSON.string) ?? .null),
            ("min_time_ns", .num(minTimeNs)),
        ]
        if let layoutFile { fields.append(("layout_file", layoutFile.json)) }
        if let memory {
            let p = memory.predicted
            fields.append(("peak_rss_bytes", .int(Int(memory.peakResidentBytes))))
            fields.append(("predicted_peak_bytes", .int(Int(p.totalBytes))))
            fields.append(("predicted_peak_terms", .object([
                ("process", .int(Int(p.processBytes))), ("memmap_buffers", .int(Int(p.memmapBufferBytes))),
                ("calibration", .int(Int(p.calibrationBytes))), ("region", .int(Int(p.regionBytes))),
            ])))
        }
        if let phases {
            fields.append(("phases", .object([("map", .num(phases.map)), ("verify", .num(phases.verify)),
                                              ("calibrate", .num(phases.calibrate)), ("measure", .num(phases.measure))])))
        }
        fields += extra
        return .object(fields)
    }

    /// The machine in brief: counts where the topology lists, and the topology's own fields as
    /// `gupbench topology --format json` spells them (Topology+JSON.swift), taken from there.
    var machineJSON: JSON {
        let topologyJSON = topology.json
        let fromTopology = ["llc_bytes", "kernel", "thp_mode", "cpu_model", "hugepages_total", "hugepages_free"]
        return .object([
            ("cpus", .int(topology.allowedCPUs.count)),
            ("numa_nodes", .int(topology.nodes.count)),
        ] + fromTopology.map { ($0, topologyJSON[$0] ?? .null) } + [
            ("tool_version", .string(BuildInfo.version)),
            ("git_commit", .string(BuildInfo.gitCommit)),
            ("kernel_layout", .string(KernelLayout.running.verdict.description)),
            ("kernel_thunks", .string(KernelThunks.running.summary)),
            ("memory_cgroup", MemoryCgroup.current.map { .string($0.summary) } ?? .null),
            ("free_path_calls", .string(FreePathCalls.running.summary)),
            ("page_checks", .string(PageChecks.current.summary)),
        ])
    }

    var calibrationJSON: JSON {
        guard let c = calibration else {
            return .object([(CalibrationFigure.atomic.jsonKey, .null), (CalibrationFigure.stream.jsonKey, .null)])
        }
        var fields: [(String, JSON)] = c.terms.map { ($0.figure.jsonKey, .num($0.value)) }
        fields.append(("llc_bytes", .int(c.llcBytes)))
        fields.append(("samples", .int(c.samples)))
        fields.append(("rejected_contended", .int(c.rejectedContended)))
        fields.append(("spread", .object(c.terms.compactMap { term in
            c.spread[term.figure].map { (term.figure.jsonKey, .object([("min", .num($0.lowerBound)), ("max", .num($0.upperBound))])) }
        })))
        fields.append(("memmaps", .array(c.memmaps.map(Self.memmapJSON))))
        return .object(fields)
    }

    static func memmapJSON(_ m: MemmapFigures) -> JSON {
        .object([("bytes", .int(m.bytes)), (CalibrationFigure.memmapLine.jsonKey, .num(m.lineNs)),
                 ("spread", .object([("min", .num(m.spread.lowerBound)), ("max", .num(m.spread.upperBound))]))])
    }

}

extension ResultRecord {
    /// Every timing figure of the result, so that scaling them scales the result (the gate
    /// reads `rounds`, else `samples`, else `median`).
    var nsPerPageJSON: JSON {
        let fields: [(String, JSON)] = [
            ("median", .num(nsPerPage.median)), ("min", .num(nsPerPage.min)),
            ("max", .num(nsPerPage.max)), ("ci95_low", .num(nsPerPage.ci95Low)),
            ("ci95_high", .num(nsPerPage.ci95High)), ("cv", .num(nsPerPage.cv)),
            ("within_round_cv", .num(nsPerPage.spread.withinRoundCV)),
            ("between_round_cv", .num(nsPerPage.spread.betweenRoundCV)),
            ("noisy", .bool(noisy)), ("noise_reasons", .array(noiseReasons.map(JSON.string))),
            ("outliers", .int(nsPerPage.outliers)),
            ("samples", .array(nsPerPageSamples.map { JSON.num($0) })),
            ("rounds", .array(nsPerPageRounds.rounds.map { round in .array(round.map { JSON.num($0) }) })),
            ("round_medians", .array(nsPerPage.roundMedians.map { JSON.num($0) })),
            ("per_thread", .array(perThreadNsPerPage.map { JSON.num($0) })),
        ]
        return .object(fields)
    }

    var floorsJSON: JSON {
        guard let floors else { return .null }
        return .array(floors.floors.map { f in
            .object([("resource", .string(f.resource.rawValue)), ("events_per_page", .num(f.eventsPerPage)),
                     ("ns", .num(f.ns)), ("ns_per_page", .num(f.nsPerPage)), ("calibration", .string(f.calibration))])
        })
    }

    var efficiencyJSON: JSON {
        guard let e = efficiency else { return .null }
        return .object([("median", .num(e.median)), ("ci95_low", .num(e.ci95Low)), ("ci95_high", .num(e.ci95High))])
    }

    var json: JSON {
        return .object(identityFields() + [
            ("pages", .int(pages)),
            ("pages_per_thread", .int(pagesPerThread)),
            ("repetitions", .int(repetitions)),
            ("windows_per_sample", .int(windowsPerSample)),
            ("first_entry_release_ns", firstEntryReleaseNs.isEmpty ? .null : .num(Statistics.median(firstEntryReleaseNs))),
            ("ns_per_page", nsPerPageJSON),
            ("pages_per_second", .object([("median", .num(pagesPerSecond))])),
            ("atomics_per_page", .num(atomicsPerPage)),
            ("flag_tests_per_page", .num(flagTestsPerPage)),
            ("kernel_calls_per_page", kernelCallsPerPage?.json ?? .null),
            ("locks_per_page", .object([
                ("lruvec", .num(locksPerPage?.lruvec ?? 0)), ("pcp", .num(locksPerPage?.pcp ?? 0)),
                ("zone", .num(locksPerPage?.zone ?? 0)),
            ])),
            ("floors", floorsJSON),
            ("floor_ns_per_page", .num(floorNsPerPage)),
            ("bound", floors?.bound.map { JSON.string($0.rawValue) } ?? .null),
            ("efficiency", efficiencyJSON),
            ("beats_floor", .bool(beatsFloor)),
            ("thp_backed_fraction", .num(thpBackedFraction)),
            ("folio_backed_fraction", .num(folioBackedFraction)),
            ("placement", placement.json),
            ("cpus", .array(cpus.map(JSON.int))),
            ("thread_overlap", .num(threadOverlap)),
            ("threads_ran", .array(threadsRan.map { .array($0.map(JSON.num)) })),
            ("audit", .object([
                ("balanced", .bool(balanced)),
                ("pins_acquired", .int(Int(pinsAcquired))),
                ("pins_released", .int(Int(pinsReleased))),
                ("detail", auditDetail.map(JSON.string) ?? .null),
                ("underflows", .int(Int(underflows))),
                ("ledger_violations", .int(ledgerViolations)),
            ])),
        ])
    }
}

extension PlacementReport {
    var json: JSON {
        func perNode(_ counts: [Int]) -> JSON {
            .object(counts.enumerated().filter { $0.element > 0 }.map { (String($0.offset), .int($0.element)) })
        }
        return .object([
            ("policy", .string(policy.rawValue)),
            ("requested_node", requestedNode.map(JSON.int) ?? .null),
            ("verified_fraction", .num(verifiedFraction)),
            ("memmap_verified_fraction", .num(memmapVerifiedFraction)),
            ("data_node_pages", perNode(dataNodePages)),
            ("memmap_node_pages", perNode(memmapNodePages)),
            ("data_pages_sampled", .int(dataSampled)),
            ("memmap_pages_sampled", .int(memmapSampled)),
            ("sample_stride", .int(sampleStride)),
        ])
    }
}

extension ComparisonRecord {
    var json: JSON {
        return .object([
            ("baseline", .string(baseline.strategy.rawValue)),
            ("candidate", .string(candidate.strategy.rawValue)),
            ("baseline_impl", .string(baseline.impl.rawValue)),
            ("candidate_impl", .string(candidate.impl.rawValue)),
            ("baseline_detect", .string(baseline.detect.rawValue)),
            ("candidate_detect", .string(candidate.detect.rawValue)),
        ] + scenario.jsonFields(pagesPerThread: pagesPerThread) + [
            ("speedup", .object([
                ("median", .num(speedup)), ("ci95_low", .num(ci95Low)), ("ci95_high", .num(ci95High)),
            ])),
            ("verdict", .string(verdict.rawValue)),
        ])
    }
}
