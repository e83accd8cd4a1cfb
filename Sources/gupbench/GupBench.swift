import ArgumentParser
import Foundation
import GUPBench

/// `gupbench`: a laboratory for the kernel's page-release patterns.
struct GupBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gupbench",
        abstract: "Per-page against batched release of pinned pages, on real memory, measured.",
        discussion: """
            Reproduces in user space what happens when pages pinned by get_user_pages() or \
            pin_user_pages() are released: per page (put_page, unpin_user_page) or batched \
            (unpin_user_pages, unpin_user_page_range_dirty_lock), on real mmap'd memory placed \
            with libnuma, with a 64-byte page-descriptor model that follows the kernel's rules.
            """,
        version: BuildInfo.version,
        subcommands: [CompareCommand.self, RunCommand.self, SweepCommand.self, TopologyCommand.self,
                      CalibrateCommand.self, MisuseCommand.self, KernelCommand.self, LayoutCommand.self,
                      GateCommand.self, ABCommand.self],
        defaultSubcommand: CompareCommand.self)
}

/// The entry point: every error is one line on stderr and an exit code: 0 ok, 1 environment or
/// audit, 2 usage, 3 slower than a baseline, 4 a baseline comparison that could not decide (the
/// machine changed, or a scenario went unjudged); help and --version exit 0.
@main
enum Main {
    static func main() {
        // Ctrl-C / SIGTERM: the run stops after the repetition in flight and reports what it
        // measured (marked partial); see SignalStop.
        SignalStop.install()
        do {
            var command = try GupBench.parseAsRoot(joinNegativeValues(Array(CommandLine.arguments.dropFirst())))
            try command.run()
            stopIfSignalled(error: nil)
        } catch let error as GUPBenchError {
            stopIfSignalled(error: error.description)
            fail(error.description, code: error.exitCode)
        } catch let error as ExitCode {
            stopIfSignalled(error: nil)
            exit(error.rawValue)
        } catch {
            if GupBench.exitCode(for: error) == .success { GupBench.exit(withError: error) }
            let message = GupBench.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(message, code: 2)
        }
    }

    /// After a SIGINT/SIGTERM: one line saying so (with the error, if the command also failed),
    /// and the shell's status for the signal, 130 or 143.
    static func stopIfSignalled(error: String?) {
        guard let signal = SignalStop.signal else { return }
        OutputFile.abandon()
        let also = error.map { "; also: \($0)" } ?? ""
        FileHandle.standardError.write(
            "gupbench: stopped by \(SignalStop.name(signal)); the report printed covers what completed\(also)\n"
                .data(using: .utf8)!)
        exit(SignalStop.exitStatus(signal))
    }

    static func fail(_ message: String, code: Int32) -> Never {
        OutputFile.abandon()
        FileHandle.standardError.write("gupbench: \(message)\n".data(using: .utf8)!)
        exit(code)
    }
}
