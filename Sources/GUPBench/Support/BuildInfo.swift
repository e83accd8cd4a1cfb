import Foundation

/// The tool's version and the commit it was built from: asked of git in the directory of the
/// executable (a build inside the checkout), else "unknown".
public enum BuildInfo {
    public static let version = "0.1.0"
    public static let gitCommit: String = {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", executable.deletingLastPathComponent().path,
                         "rev-parse", "--short=12", "HEAD"]
        let out = Pipe()
        git.standardOutput = out
        git.standardError = FileHandle.nullDevice
        guard (try? git.run()) != nil else { return "unknown" }
        git.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmed
        return git.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
    }()
}
