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

extension GUPBenchError {
    /// A C call's -errno (CShims.h's convention) as the error the command line reports: an
    /// environment error (exit 1), "<what> failed: ENOMEM (Cannot allocate memory)".
    public static func fromErrno(_ negatedErrno: Int32, _ what: String) -> GUPBenchError {
        .environment("\(what) failed: \(errnoDescription(-negatedErrno))")
    }
}

/// Passes a CShims result through (0 or a count), throwing `GUPBenchError.fromErrno` for a negative
/// one: the one place a C function's -errno becomes a Swift error.
@discardableResult
public func checkErrno<T: BinaryInteger>(_ rc: T, _ what: @autoclosure () -> String) throws -> T {
    guard rc < 0 else { return rc }
    throw GUPBenchError.fromErrno(Int32(rc), what())
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
