import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process run to completion with posix_spawn: both pipes read together (no deadlock on
/// a full pipe), a deadline after which it is killed (a hang is a finding, not a stuck suite),
/// and optionally a signal sent when a condition on the running child holds.
///
/// Not Foundation's `Process`: its `run()` leaks a weak reference per call, which
/// AddressSanitizer's leak check reports in every test that starts the CLI.
struct Spawned {
    /// The exit status when the child exited; nil when a signal ended it.
    var status: Int32?
    /// The signal that ended the child, if one did.
    var signal: Int32?
    var stdout: String
    var stderr: String
    /// The deadline passed and the child was killed.
    var timedOut: Bool
    /// Seconds from spawn to exit (for reports only; tests never assert timings).
    var seconds: Double

    var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
}

/// Sent to the running child once `when(pid, secondsSinceSpawn)` returns true.
struct Interrupt {
    var signal: Int32
    var when: (pid_t, Double) -> Bool
}

enum Spawn {
    static let spawnLock = NSLock()

    static func run(_ executable: String, _ arguments: [String], timeout: Double = 120,
                    interrupt: Interrupt? = nil) throws -> Spawned {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        // Pipes and spawn under one lock, close-on-exec set before any other test's child can
        // be spawned: a child that inherited our write end would hold our EOF back.
        spawnLock.lock()
        guard pipe(&out) == 0, pipe(&err) == 0 else {
            spawnLock.unlock()
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let spawned = spawn(executable, arguments, stdin: nil, stdout: out[1], stderr: err[1])
        let start = Date()
        spawnLock.unlock()
        close(out[1])
        close(err[1])
        let pid: pid_t
        switch spawned {
        case .success(let p): pid = p
        case .failure(let error):
            close(out[0])
            close(err[0])
            throw error
        }
        var stdoutBytes: [UInt8] = [], stderrBytes: [UInt8] = []
        var open = [out[0], err[0]]
        var timedOut = false
        var interrupted = interrupt == nil
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            let elapsed = Date().timeIntervalSince(start)
            if elapsed > timeout && !timedOut {
                timedOut = true
                kill(pid, SIGKILL)
            }
            if !interrupted, let interrupt, interrupt.when(pid, elapsed) {
                interrupted = true
                kill(pid, interrupt.signal)
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 50)
            if ready <= 0 { continue }
            for p in fds where p.revents != 0 {
                let n = read(p.fd, &buffer, buffer.count)
                if n > 0 {
                    if p.fd == out[0] { stdoutBytes += buffer[0..<n] } else { stderrBytes += buffer[0..<n] }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(p.fd)
                    open.removeAll { $0 == p.fd }
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signalled = status & 0x7f
        return Spawned(status: signalled == 0 ? (status >> 8) & 0xff : nil,
                       signal: signalled == 0 ? nil : signalled,
                       stdout: String(decoding: stdoutBytes, as: UTF8.self),
                       stderr: String(decoding: stderrBytes, as: UTF8.self),
                       timedOut: timedOut, seconds: Date().timeIntervalSince(start))
    }

    /// posix_spawn of `executable` with fds 0-2 taken from `stdin` (nil: /dev/null), `stdout`
    /// and `stderr`. The calling thread may be a pool worker with signals blocked; the child
    /// starts with none blocked and default dispositions, as from a shell. Call under spawnLock.
    static func spawn(_ executable: String, _ arguments: [String], stdin: Int32?, stdout: Int32,
                      stderr: Int32) -> Result<pid_t, POSIXError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGXFSZ] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, environ)
        return rc == 0 ? .success(pid) : .failure(POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO))
    }

    /// A child left running with a pipe to its stdin (`input`, write end) and one from its stdout
    /// (`output`, read end); its stderr is this process's.
    static func start(_ executable: String, _ arguments: [String]) throws -> (pid: pid_t, input: Int32, output: Int32) {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0]
        spawnLock.lock()
        defer { spawnLock.unlock() }
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let spawned = spawn(executable, arguments, stdin: inPipe[0], stdout: outPipe[1], stderr: 2)
        close(inPipe[0])
        close(outPipe[1])
        switch spawned {
        case .success(let pid): return (pid, inPipe[1], outPipe[0])
        case .failure(let error):
            close(inPipe[1])
            close(outPipe[0])
            throw error
        }
    }

    /// Whether process `pid` has a thread named `name` (e.g. "gb-release-0": a runner's worker).
    static func hasThread(_ pid: pid_t, named name: String) -> Bool {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.contains { tid in
            (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }

    /// Whether process `pid` has a mapping of exactly `bytes` (a region it is measuring).
    static func hasMapping(_ pid: pid_t, bytes: Int) -> Bool {
        guard let maps = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else { return false }
        return maps.split(separator: "\n").contains { line in
            let range = line.split(separator: " ")[0].split(separator: "-")
            guard range.count == 2, let lo = Int(range[0], radix: 16), let hi = Int(range[1], radix: 16)
            else { return false }
            return hi - lo == bytes
        }
    }
}
