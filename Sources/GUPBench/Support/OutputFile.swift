import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `--output FILE`: opened before anything is measured and written through that descriptor at
/// the end, so whatever the path is, it is found out in the first millisecond, not after minutes
/// of measuring.
///
/// - A symlink is followed and the report goes into what it points at (the link stays a link).
/// - A directory, a FIFO, a socket or a device is refused at once (a FIFO would block, a device
///   node would be written or, with an atomic replace, replaced), except `/dev/stdout` and
///   `/dev/stderr`, which are what the user asked for.
/// - An existing file is not truncated until the report is ready: a run that fails keeps it.
/// - A file created here and never written is removed again by `abandon()`.
public final class OutputFile: @unchecked Sendable {
    public let path: String
    private var fd: Int32
    private let isRegular: Bool
    private let created: Bool
    /// The same open file as this process's stdout: the report is already there.
    private let isStdout: Bool
    private var written = false

    /// The paths accepted although they are not regular files.
    public static let standardStreams = ["/dev/stdout", "/dev/stderr"]

    /// Opens `path` for the report; throws `.usage` (exit 2) with one line naming the path.
    public init(path: String) throws {
        self.path = path
        func refuse(_ why: String) -> GUPBenchError {
            .usage("--output '\(path)' \(why); give a regular file (or /dev/stdout, /dev/stderr)")
        }
        let stream = Self.standardStreams.contains(path)
        var st = stat()
        let existed = stat(path, &st) == 0  // follows symlinks
        if existed, !stream, let kind = Self.refusedKind(st.st_mode) { throw refuse("is \(kind)") }
        // O_NONBLOCK: a FIFO that appeared since the stat must not block the open; cleared below.
        var flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK
        if !existed { flags |= O_CREAT | O_EXCL }
        let fd = open(path, flags, 0o666)
        guard fd >= 0 else {
            throw GUPBenchError.usage("--output '\(path)' cannot be written: \(errnoDescription(errno)); "
                                      + "give a path in a writable directory")
        }
        var opened = stat()
        _ = fstat(fd, &opened)
        if !stream, let kind = Self.refusedKind(opened.st_mode) {
            close(fd)
            throw refuse("is \(kind)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var out = stat()
        let sameAsStdout = fstat(1, &out) == 0 && out.st_dev == opened.st_dev && out.st_ino == opened.st_ino
        isStdout = path == "/dev/stdout" || (sameAsStdout && (opened.st_mode & S_IFMT) == S_IFREG)
        self.fd = fd
        isRegular = (opened.st_mode & S_IFMT) == S_IFREG
        created = !existed
        Self.current = self
    }

    deinit { if fd >= 0 { close(fd) } }

    /// What kind of file `mode` is when it cannot take a report; nil for a regular file.
    static func refusedKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (it would block until read, and a reader may never come)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR, S_IFBLK: return "a device"
        default: return "not a regular file"
        }
    }

    /// Replaces the file's contents with `text` (a regular file is truncated first). Throws
    /// `.environment` (exit 1) naming the reason when the write fails.
    public func write(_ text: String) throws {
        written = true
        if isStdout { return }
        func failure(_ err: Int32) -> GUPBenchError {
            .environment("--output '\(path)' could not be written: \(errnoDescription(err)); "
                         + "the report above on stdout is complete")
        }
        if isRegular {
            guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw failure(errno) }
        }
        if let err = Self.writeAll(fd, text) { throw failure(err) }
        if isRegular && fsync(fd) != 0 && errno != EINVAL { throw failure(errno) }
    }

    /// Writes all of `text` to `fd`; nil, or the errno that stopped it. (FileHandle.write traps
    /// on an error, e.g. EFBIG or EPIPE: a report must never end in a crash.)
    public static func writeAll(_ fd: Int32, _ text: String) -> Int32? {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += n
        }
        return nil
    }

    /// The output file of this process, for `abandon()` on an error exit.
    nonisolated(unsafe) static var current: OutputFile?

    /// Removes a file this run created but never wrote (the run failed before its report).
    public static func abandon() {
        guard let file = current, file.created, !file.written else { return }
        unlink(file.path)
    }
}
