import CShims
import Foundation

/// Ctrl-C (SIGINT) and SIGTERM during a measurement: the run finishes the repetition in flight,
/// stops, releases every region, pin and io_uring registration on the normal path (nothing is
/// abandoned mid-release, so every audit still balances), and the command prints what it
/// measured, marked partial, then exits 128 + the signal (130, 143).
///
/// The C handler (`gb_stop.c`) records the signal with one atomic store; the measuring loops
/// poll `requested` between repetitions and between scenarios, never inside a timed window.
public enum SignalStop {
    /// Installs the handlers; the command-line tool calls it once before measuring.
    public static func install() {
        _ = gb_stop_install()
    }

    /// The signal received, if any (SIGINT = 2, SIGTERM = 15).
    public static var signal: Int32? {
        let s = gb_stop_signal()
        return s == 0 ? nil : s
    }

    public static var requested: Bool { gb_stop_signal() != 0 }

    /// "SIGINT" or "SIGTERM", for the one-line notice.
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(signal)"
        }
    }

    /// The exit status of a run stopped by `signal`: 128 + its number, as a shell reports it.
    public static func exitStatus(_ signal: Int32) -> Int32 { 128 + signal }
}
