/// How a replayed layout shows in reports and how a run is set up for it.
extension BenchConfig {
    /// Replays `file`: one 4 KiB-backed region whose memmap holds the layout's folios (its data
    /// pages are not what is measured), so --size, --backing and --folio-order do not apply.
    public mutating func replay(_ file: LayoutFile) {
        layoutFile = file
        let descriptors = LayoutMemmap(file.layout).descriptors
        sizes = [descriptors * 4096]
        backings = [.fourK]
        folioOrders = [nil]
    }
}

extension LayoutFile {
    /// Contiguous stretches of the whole page array in virtual order: the calls unpin-range
    /// makes on one thread with --sharing disjoint.
    public var rangeStretches: Int { LayoutMemmap.stretches(LayoutMemmap(layout).entries).count }

    public var json: JSON {
        .object([
            ("path", .string(path)),
            ("sha256", .string(sha256)),
            ("schema", .string(FolioLayout.schema)),
            ("captured_on_kernel", .string(layout.kernel)),
            ("summary", layout.summaryJSON),
            ("range_stretches", .int(rangeStretches)),
        ])
    }

    /// Footer lines of a table report.
    public var reportLines: [String] {
        let s = layout.summary
        return ["layout file: \(path) (sha256 \(sha256)), captured on kernel \(layout.kernel)"]
            + s.lines.map { "  " + $0 }
            + ["  unpin-range runs on contiguous stretches only: \(rangeStretches) in the whole page array "
               + "(holes and partial folios end a stretch), one call each"]
    }
}
