/// The machine's limits (`gupbench calibrate`), nil until measured.
public struct CalibrationFigures: Sendable {
    public var atomicNs: Double
    public var contendedAtomicNs: Double?
    public var streamNsPerDescriptor: Double
    public var streamNsPerDescriptorInCache: Double
    public var llcBytes: Int
    public init(atomicNs: Double, contendedAtomicNs: Double?, streamNsPerDescriptor: Double,
                streamNsPerDescriptorInCache: Double, llcBytes: Int) {
        self.atomicNs = atomicNs
        self.contendedAtomicNs = contendedAtomicNs
        self.streamNsPerDescriptor = streamNsPerDescriptor
        self.streamNsPerDescriptorInCache = streamNsPerDescriptorInCache
        self.llcBytes = llcBytes
    }
}
