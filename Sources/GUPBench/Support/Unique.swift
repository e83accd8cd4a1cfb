/// `xs` without repeats, each kept where it first occurs.
func uniqueValues<T: Hashable>(_ xs: [T]) -> [T] {
    var seen = Set<T>()
    return xs.filter { seen.insert($0).inserted }
}
