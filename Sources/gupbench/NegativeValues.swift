/// `--warmup -1` reaches the parser as an option followed by something that looks like a short
/// option, and the parser answers "Missing value for '--warmup <warmup>'" without naming the
/// value. Joined into `--warmup=-1`, the value reaches the option's own check, which names it
/// and says what is valid ("--warmup -1 is out of range; valid: 0-100000").
///
/// Only a long option directly followed by a token of the form `-<digit>...` is joined: no
/// option of gupbench is spelled like that, and no flag takes a value.
func joinNegativeValues(_ arguments: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < arguments.count {
        let a = arguments[i]
        if a.hasPrefix("--"), a.count > 2, !a.contains("="), i + 1 < arguments.count,
           looksNegative(arguments[i + 1]) {
            out.append(a + "=" + arguments[i + 1])
            i += 2
            continue
        }
        out.append(a)
        i += 1
    }
    return out
}

/// "-1", "-5MiB", "-0.5": a value with a minus sign, not an option.
func looksNegative(_ token: String) -> Bool {
    guard token.hasPrefix("-"), let second = token.dropFirst().first else { return false }
    return second.isNumber || second == "."
}
