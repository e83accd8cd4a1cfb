import Foundation

/// The commit a checkout has out, read from its `.git` files directly: no `git` subprocess (a
/// fork from a process with pinned worker threads, and under AddressSanitizer a Foundation
/// `Process` leak, for one line of a report), and no dependence on git being installed.
///
/// Follows what git itself does for `HEAD`: a detached HEAD holds the hash; otherwise
/// `ref: refs/heads/<branch>` names a loose ref file or a line of `packed-refs`. A linked
/// worktree's `.git` is a file `gitdir: <path>` whose directory has a `commondir` pointing at
/// the shared repository, where branch refs live.
public enum GitCheckout {
    /// The 12-digit abbreviated commit of the checkout containing `directory` (searched upwards),
    /// or nil when there is none or its files cannot be read.
    public static func commit(containing directory: URL) -> String? {
        var dir = directory.standardizedFileURL
        while true {
            let dotGit = dir.appendingPathComponent(".git")
            if let gitDir = gitDirectory(dotGit) { return headCommit(gitDir: gitDir).map { String($0.prefix(12)) } }
            if dir.path == "/" || dir.path.isEmpty { return nil }
            dir.deleteLastPathComponent()
        }
    }

    /// `.git` as a directory, or the directory a `.git` file's `gitdir:` line names.
    static func gitDirectory(_ dotGit: URL) -> URL? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDir) else { return nil }
        if isDir.boolValue { return dotGit }
        guard let text = read(dotGit), text.hasPrefix("gitdir:") else { return nil }
        let path = String(text.dropFirst("gitdir:".count)).trimmingCharacters(in: .whitespaces)
        return path.hasPrefix("/") ? URL(fileURLWithPath: path)
            : dotGit.deletingLastPathComponent().appendingPathComponent(path)
    }

    /// The full hash HEAD resolves to.
    static func headCommit(gitDir: URL) -> String? {
        guard let head = read(gitDir.appendingPathComponent("HEAD")) else { return nil }
        guard head.hasPrefix("ref:") else { return isHash(head) ? head : nil }
        let ref = String(head.dropFirst("ref:".count)).trimmingCharacters(in: .whitespaces)
        // Branch refs of a linked worktree live in the common directory.
        var dirs = [gitDir]
        if let common = read(gitDir.appendingPathComponent("commondir")) {
            dirs.append(common.hasPrefix("/") ? URL(fileURLWithPath: common)
                        : gitDir.appendingPathComponent(common))
        }
        for dir in dirs {
            if let loose = read(dir.appendingPathComponent(ref)), isHash(loose) { return loose }
        }
        for dir in dirs {
            guard let packed = read(dir.appendingPathComponent("packed-refs")) else { continue }
            for line in packed.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("^") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[1] == ref, isHash(String(parts[0])) { return String(parts[0]) }
            }
        }
        return nil
    }

    static func isHash(_ text: String) -> Bool {
        (text.count == 40 || text.count == 64) && text.allSatisfy(\.isHexDigit)
    }

    static func read(_ url: URL) -> String? {
        (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
