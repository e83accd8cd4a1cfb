import Foundation

/// The tool's version and the commit it was built from: read from the `.git` of the checkout
/// the executable sits in (a build inside the checkout), else "unknown". No subprocess.
public enum BuildInfo {
    public static let version = "0.1.0"
    public static let gitCommit: String = {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return GitCheckout.commit(containing: executable.deletingLastPathComponent()) ?? "unknown"
    }()
}
