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
        ]
        if let layoutFile { fields.append(("layout_file", layoutFile.json)) }
        fields += extra
        return .object(fields)
    }

    var machineJSON: JSON {
        .object([
            ("cpus", .int(topology.allowedCPUs.count)),
            ("numa_nodes", .int(topology.nodes.count)),
            ("llc_bytes", .int(topology.llcBytes)),
            ("kernel", .string(topology.kernel)),
            ("thp_mode", .string(topology.thpMode)),
            ("cpu_model", .string(topology.cpuModel)),
            ("hugepages_total", .int(topology.hugePagesTotal)),
            ("hugepages_free", .int(topology.hugePagesFree)),
            ("tool_version", .string(BuildInfo.version)),
            ("git_commit", .string(BuildInfo.gitCommit)),
        ])
    }

    var calibrationJSON: JSON {
        guard let c = calibration else {
            return .object([("atomic_ns", .null), ("stream_ns_per_descriptor", .null)])
        }
        return .object([
            ("atomic_ns", .num(c.atomicNs)),
            ("stream_ns_per_descriptor", .num(c.streamNsPerDescriptor)),
            ("stream_ns_per_descriptor_in_cache", .num(c.streamNsPerDescriptorInCache)),
            ("contended_atomic_ns", .num(c.contendedAtomicNs)),
            ("lock_pair_ns", .num(c.lockPairNs)),
            ("contended_lock_pair_ns", .num(c.contendedLockPairNs)),
            ("llc_bytes", .int(c.llcBytes)),
        ])
    }
}

extension ResultRecord {
    var json: JSON {
        return .object(identityFields() + [
            ("pages", .int(pages)),
            ("pages_per_thread", .int(pagesPerThread)),
            ("repetitions", .int(repetitions)),
            ("ns_per_page", .object([
                ("median", .num(nsPerPage.median)), ("min", .num(nsPerPage.min)),
                ("max", .num(nsPerPage.max)), ("ci95_low", .num(nsPerPage.ci95Low)),
                ("ci95_high", .num(nsPerPage.ci95High)), ("cv", .num(nsPerPage.cv)),
                ("noisy", .bool(nsPerPage.noisy)), ("outliers", .int(nsPerPage.outliers)),
                ("samples", .array(nsPerPageSamples.map { JSON.num($0) })),
            ])),
            ("pages_per_second", .object([("median", .num(pagesPerSecond))])),
            ("atomics_per_page", .num(atomicsPerPage)),
            ("flag_tests_per_page", .num(flagTestsPerPage)),
            ("locks_per_page", .object([
                ("lruvec", .num(locksPerPage?.lruvec ?? 0)), ("pcp", .num(locksPerPage?.pcp ?? 0)),
                ("zone", .num(locksPerPage?.zone ?? 0)),
            ])),
            ("roofline_ns_per_page", .num(rooflineNsPerPage)),
            ("efficiency", .num(efficiency)),
            ("thp_backed_fraction", .num(thpBackedFraction)),
            ("folio_backed_fraction", .num(folioBackedFraction)),
            ("placement", placement.json),
            ("cpus", .array(cpus.map(JSON.int))),
            ("per_thread_ns_per_page", .array(perThreadNsPerPage.map { JSON.num($0) })),
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
            ("p_value", .num(pValue)),
            ("verdict", .string(verdict.rawValue)),
        ])
    }
}
