import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs another program to completion with posix_spawn, its standard output discarded and its
/// standard error kept in a file (`gupbench ab` runs builds this way and reads their reports
/// from files). Not Foundation's `Process`, which leaks a reference per run.
public enum ChildProcess {
    /// The exit status, or 128 + the signal that ended it.
    public static func run(_ executable: String, _ arguments: [String], stderrPath: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else {
            throw GUPBenchError.environment("cannot run '\(executable)': \(errnoDescription(rc))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw GUPBenchError.environment("waitpid failed: \(errnoDescription(errno))") }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
