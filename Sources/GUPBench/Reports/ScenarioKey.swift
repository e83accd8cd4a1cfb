/// Everything that identifies one measured scenario besides the strategy.
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
}

extension ScenarioKey {
    /// Pages per release call as a number: the whole share when no batch was given.
    func batchPages(pagesPerThread: Int) -> Int { batch ?? pagesPerThread }
}
