func uniqueStrings(_ xs: [String]) -> [String] {
    var seen = Set<String>()
    return xs.filter { seen.insert($0).inserted }
}

func uniqueKeys(_ xs: [LoopKey]) -> [LoopKey] {
    var seen = Set<LoopKey>()
    return xs.filter { seen.insert($0).inserted }
}
