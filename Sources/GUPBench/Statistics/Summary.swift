/// A five-number summary of per-page cost.
public struct Summary: Sendable {
    public let median, min, max, ci95Low, ci95High: Double
    public let cv: Double
    public let outliers: Int

    public init(_ xs: [Double]) {
        median = Statistics.median(xs)
        min = xs.min() ?? .nan
        max = xs.max() ?? .nan
        (ci95Low, ci95High) = Statistics.medianCI(xs)
        cv = Statistics.coefficientOfVariation(xs)
        outliers = Statistics.outlierCount(xs)
    }

    /// More than 10% coefficient of variation: the table marks the figure with `~`.
    public var noisy: Bool { cv > 0.10 }
}
