import CShims
import Foundation

/// "scenario k of n, elapsed, ETA" on stderr, only when stderr is a terminal and the run is
/// long enough (two seconds) to need it.
public final class Progress: @unchecked Sendable {
    private var total = 0
    private var done = 0
    private var startNs: UInt64 = 0
    private var lastPrintNs: UInt64 = 0
    private var printed = false
    private let enabled: Bool

    public init(enabled: Bool = isatty(2) != 0) { self.enabled = enabled }

    func start(total: Int) {
        self.total = max(total, 1)
        done = 0
        startNs = gb_now_ns()
    }

    func step() {
        done += 1
        guard enabled else { return }
        let now = gb_now_ns()
        let elapsed = Double(now - startNs) / 1e9
        guard elapsed > 2, now - lastPrintNs > 200_000_000 else { return }
        lastPrintNs = now
        let eta = elapsed / Double(done) * Double(total - done)
        let line = String(format: "\r  gupbench: step %d of %d, %.0fs elapsed, ETA %.0fs   ",
                          done, total, elapsed, eta)
        FileHandle.standardError.write(line.data(using: .utf8)!)
        printed = true
    }

    /// What the run does before its next repetition (mapping, verifying), on the same line.
    func phase(_ text: String) {
        guard enabled else { return }
        let elapsed = Double(gb_now_ns() - startNs) / 1e9
        let line = String(format: "\r  gupbench: %@, %.0fs elapsed\u{1B}[K", text, elapsed)
        FileHandle.standardError.write(line.data(using: .utf8)!)
        printed = true
    }

    func finish() {
        if printed { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
    }
}
