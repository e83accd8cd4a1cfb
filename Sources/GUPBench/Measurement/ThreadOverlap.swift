/// How much of a parallel section all its threads really ran together.
///
/// The section's wall time runs from the first thread's start to the last thread's end. If
/// the threads were started together but one was descheduled (a neighbour's load on a shared
/// machine), they ran partly one after the other: the wall time then measures a queue, not
/// parallel release, and per-page figures from it are not what the scenario asks.
///
///     thread_overlap = (earliest end − latest start) ÷ (latest end − earliest start)
///
/// 1 = every thread ran for the whole section; 0 = at no moment were all of them running.
public enum ThreadOverlap {
    /// Below this a result is marked noisy with the reason.
    public static let noisyBelow = 0.9

    /// Overlap of one section from each thread's start and end (same clock, ns). One thread
    /// (or none) overlaps itself fully.
    public static func fraction(starts: [UInt64], ends: [UInt64]) -> Double {
        precondition(starts.count == ends.count)
        guard starts.count > 1, let first = starts.min(), let lastStart = starts.max(),
              let firstEnd = ends.min(), let last = ends.max(), last > first else { return 1 }
        let together = firstEnd > lastStart ? Double(firstEnd - lastStart) : 0
        return together / Double(last - first)
    }
}
