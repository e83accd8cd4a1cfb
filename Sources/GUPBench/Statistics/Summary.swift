/// A summary of per-page cost over every repetition of every round.
public struct Summary: Sendable {
    public let median, min, max, ci95Low, ci95High: Double
    /// Coefficient of variation of all repetitions together.
    public let cv: Double
    public let outliers: Int
    /// Where the spread comes from: inside one round, or between rounds (fresh regions).
    public let spread: RoundSpread
    public let roundMedians: [Double]

    /// One group of repetitions (a kernel call, or a result of one round).
    public init(_ xs: [Double]) { self.init(RoundSamples([xs])) }

    /// The CI is the hierarchical bootstrap's: it covers the between-round spread too.
    public init(_ s: RoundSamples) {
        let xs = s.all
        median = Statistics.median(xs)
        min = xs.min() ?? .nan
        max = xs.max() ?? .nan
        (ci95Low, ci95High) = Statistics.medianCI(s)
        cv = Statistics.coefficientOfVariation(xs)
        outliers = Statistics.outlierCount(xs)
        spread = Statistics.spread(s)
        roundMedians = s.roundMedians
    }

    /// The coefficient of variation above which a figure is marked noisy (`~`).
    public static let noisyCV = 0.10

    /// More than 10% coefficient of variation: the table marks the figure with `~`.
    public var noisy: Bool { cv > Self.noisyCV }
}
