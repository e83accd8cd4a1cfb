import Foundation

/// What went wrong, sorted by who can fix it. Each message is one line that names the value and
/// what would be valid; the command-line tool maps the case to its exit code.
public enum GUPBenchError: Error, Equatable, CustomStringConvertible {
    /// The request itself is invalid (exit 2).
    case usage(String)
    /// This machine or kernel cannot do what was asked (exit 1).
    case environment(String)
    /// A run finished but its page accounting did not balance (exit 1).
    case auditFailed(String)

    public var description: String {
        switch self {
        case .usage(let m), .environment(let m), .auditFailed(let m): return m
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .usage: return 2
        case .environment, .auditFailed: return 1
        }
    }
}

/// The name of the C error number, e.g. "ENOMEM (Cannot allocate memory)".
public func errnoDescription(_ err: Int32) -> String {
    let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 4: "EINTR", 5: "EIO", 6: "ENXIO", 12: "ENOMEM", 13: "EACCES",
        14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR",
        22: "EINVAL", 27: "EFBIG", 28: "ENOSPC", 30: "EROFS", 32: "EPIPE", 38: "ENOSYS",
        95: "EOPNOTSUPP", 122: "EDQUOT",
    ]
    let text = String(cString: strerror(err))
    return "\(names[err] ?? "errno \(err)") (\(text))"
}
