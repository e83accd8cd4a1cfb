/// Everything that identifies one measured scenario besides the loop (strategy, impl, detect).
///
/// This is the one definition of a scenario's identity: `ScenarioKey.fields` lists its
/// dimensions in report order, and JSON, CSV, markdown, the tables' labels, the baseline gate
/// and (through the report's `identity_keys`) the plot script all read that list. A new
/// dimension is a stored property here and one entry in `fields`.
public struct ScenarioKey: Hashable, Sendable {
    public var size: Int
    public var backing: Backing
    public var folioOrder: Int
    public var forcedOrder: Bool
    public var threads: Int
    public var sharing: Sharing
    public var layout: Layout
    public var dirty: DirtyMode
    /// Pages per release call; nil = the whole share.
    public var batch: Int?
    public var memNode: Int?
    public var cpuNode: Int
    public var memPolicy: MemPolicy
    /// --last-ref: the mapping's reference was dropped first, so each release freed its folio.
    public var lastRef: Bool
    /// SHA-256 of the `--layout-file` replayed; nil for uniform memory.
    public var layoutDigest: String?
    /// How the out-of-line release calls returned (`--mitigations`).
    public var mitigations: Mitigations

    public init(size: Int, backing: Backing, folioOrder: Int, forcedOrder: Bool, threads: Int,
                sharing: Sharing, layout: Layout, dirty: DirtyMode, batch: Int?, memNode: Int?,
                cpuNode: Int, memPolicy: MemPolicy, lastRef: Bool = false, layoutDigest: String? = nil,
                mitigations: Mitigations = .off) {
        self.lastRef = lastRef
        self.mitigations = mitigations
        self.size = size
        self.backing = backing
        self.folioOrder = folioOrder
        self.forcedOrder = forcedOrder
        self.threads = threads
        self.sharing = sharing
        self.layout = layout
        self.dirty = dirty
        self.batch = batch
        self.memNode = memNode
        self.cpuNode = cpuNode
        self.memPolicy = memPolicy
        self.layoutDigest = layoutDigest
    }

    /// What backs the measured memory, for tables: the backing, or "layout" for a replayed
    /// `--layout-file` (whose region is only the home of its memmap).
    public var backingLabel: String { layoutDigest == nil ? backing.rawValue : "layout" }

    /// Pages per release call as a number: the whole share when no batch was given.
    func batchPages(pagesPerThread: Int) -> Int { batch ?? pagesPerThread }
}

/// One dimension of a scenario: its JSON/CSV key, its table label, its value as JSON and as
/// table text, and the value a title may leave unsaid.
public struct ScenarioField: Sendable {
    public let key: String
    public let label: String
    /// `pagesPerThread` resolves a whole-share batch to its number.
    let json: @Sendable (ScenarioKey, _ pagesPerThread: Int) -> JSON
    let text: @Sendable (ScenarioKey) -> String
    /// Always a table column (the reader's first question), even when every row has one value.
    let alwaysShown: Bool

    init(_ key: String, _ label: String, alwaysShown: Bool = false,
         json: @escaping @Sendable (ScenarioKey, Int) -> JSON,
         text: @escaping @Sendable (ScenarioKey) -> String) {
        (self.key, self.label, self.alwaysShown) = (key, label, alwaysShown)
        (self.json, self.text) = (json, text)
    }
}

extension ScenarioKey {
    /// The scenario's dimensions, in report order.
    public static let fields: [ScenarioField] = [
        .init("size_bytes", "size", json: { s, _ in .int(s.size) }, text: { ByteSize.format($0.size) }),
        .init("backing", "backing", alwaysShown: true, json: { s, _ in .string(s.backing.rawValue) },
              text: { $0.backingLabel }),
        .init("folio_order", "order", json: { s, _ in .int(s.folioOrder) },
              text: { String($0.folioOrder) + ($0.forcedOrder ? " (forced)" : "") }),
        .init("folio_order_forced", "forced", json: { s, _ in .bool(s.forcedOrder) },
              text: { $0.forcedOrder ? "yes" : "no" }),
        .init("threads", "threads", alwaysShown: true, json: { s, _ in .int(s.threads) },
              text: { String($0.threads) }),
        .init("sharing", "sharing", json: { s, _ in .string(s.sharing.rawValue) }, text: { $0.sharing.rawValue }),
        .init("layout", "layout", json: { s, _ in .string(s.layout.rawValue) }, text: { $0.layout.rawValue }),
        .init("dirty", "dirty", json: { s, _ in .string(s.dirty.rawValue) }, text: { $0.dirty.rawValue }),
        .init("batch", "batch", json: { s, perThread in .int(s.batchPages(pagesPerThread: perThread)) },
              text: { $0.batch.map(String.init) ?? "whole" }),
        .init("mem_node", "mem", json: { s, _ in s.memNode.map(JSON.int) ?? .null },
              text: { $0.memNode.map(String.init) ?? "all" }),
        .init("cpu_node", "cpu", json: { s, _ in .int(s.cpuNode) }, text: { String($0.cpuNode) }),
        .init("mem_policy", "policy", json: { s, _ in .string(s.memPolicy.rawValue) }, text: { $0.memPolicy.rawValue }),
        .init("last_ref", "last-ref", json: { s, _ in .bool(s.lastRef) }, text: { $0.lastRef ? "yes" : "no" }),
        .init("layout_file_sha256", "layout file", json: { s, _ in s.layoutDigest.map(JSON.string) ?? .null },
              text: { $0.layoutDigest.map { String($0.prefix(12)) } ?? "-" }),
        .init("mitigations", "mitigations", json: { s, _ in .string(s.mitigations.rawValue) },
              text: { $0.mitigations.rawValue }),
    ]

    /// What a dimension added later meant in reports saved before it existed, so a saved
    /// baseline still pairs with today's results: every run before `--last-ref` kept the
    /// mapping's reference (`last_ref` false). A key not listed was null.
    /// Before `--mitigations`, the release calls were inlined: closest to `off`.
    public static var valueInOlderReports: [String: Any] { ["last_ref": false, "mitigations": "off"] }

    /// The scenario as ordered JSON fields.
    func jsonFields(pagesPerThread: Int) -> [(String, JSON)] {
        Self.fields.map { ($0.key, $0.json(self, pagesPerThread)) }
    }
}

extension LoopKey {
    /// The loop's dimensions, in report order: with `ScenarioKey.fields` they identify a result.
    public static let fieldKeys = ["strategy", "impl", "detect"]

    func jsonFields() -> [(String, JSON)] {
        [("strategy", .string(strategy.rawValue)), ("impl", .string(impl.rawValue)),
         ("detect", .string(detect.rawValue))]
    }
}

extension ResultRecord {
    /// The keys that make two results the same measurement: carried in every JSON report as
    /// `identity_keys`, so the baseline gate and the plot script use the same list.
    public static var identityKeys: [String] { LoopKey.fieldKeys + ScenarioKey.fields.map(\.key) }

    /// This result's identity as ordered JSON fields (the first fields of its JSON object).
    func identityFields() -> [(String, JSON)] {
        key.jsonFields() + scenario.jsonFields(pagesPerThread: pagesPerThread)
    }
}
