/// The machine's limits (`gupbench calibrate`), nil until measured.
public struct CalibrationFigures: Sendable {
    public var atomicNs: Double
    public var contendedAtomicNs: Double?
    public var streamNsPerDescriptor: Double
    public var streamNsPerDescriptorInCache: Double
    public var llcBytes: Int
    /// One uncontended spin_lock()/spin_unlock() pair (gb_free.h), and one acquisition handed
    /// over from another CPU (two CPUs taking one lock in strict turn); what the roofline charges
    /// per lock in --last-ref.
    public var lockPairNs: Double?
    public var contendedLockPairNs: Double?
    public init(atomicNs: Double, contendedAtomicNs: Double?, streamNsPerDescriptor: Double,
                streamNsPerDescriptorInCache: Double, llcBytes: Int) {
        self.atomicNs = atomicNs
        self.contendedAtomicNs = contendedAtomicNs
        self.streamNsPerDescriptor = streamNsPerDescriptor
        self.streamNsPerDescriptorInCache = streamNsPerDescriptorInCache
        self.llcBytes = llcBytes
    }
}
