import Foundation

/// What the running kernel does to a call and a return, read file by file from
/// /sys/devices/system/cpu/vulnerabilities (docs/kernel-calls.md has the table), and which of it
/// the model's `--mitigations` runs. `auto` takes the modelled part (`Mitigations.running`);
/// this names the rest, so a report says what its kernel calls cost beyond the model.
public struct KernelThunks: Sendable, Equatable {
    public struct Shape: Sendable, Equatable {
        /// The vulnerabilities file and its first line.
        public let file: String
        public let content: String
        /// The kernel code path it selects for calls or returns.
        public let kernelPath: String
        /// What the model does with it.
        public let model: String
    }

    public let shapes: [Shape]

    /// One line for reports: each thunk the kernel uses, and how it is modelled.
    public var summary: String {
        shapes.isEmpty ? "plain calls and returns"
            : shapes.map { "\($0.kernelPath) (\($0.file); \($0.model))" }.joined(separator: "; ")
    }

    /// The rules, in the order the kernel's own selection applies them (arch/x86/kernel/cpu/bugs.c:
    /// retbleed, SRSO and ITS each pick x86_return_thunk; spectre_v2 picks the indirect thunks).
    static func shape(file: String, content: String) -> Shape? {
        func make(_ path: String, _ model: String) -> Shape {
            Shape(file: file, content: content, kernelPath: path, model: model)
        }
        switch file {
        case "spectre_v2" where content.contains("Retpolines"):
            return make("indirect calls through __x86_indirect_thunk_<reg> (retpoline)", "modelled: retpoline")
        case "spec_rstack_overflow" where content.contains("Safe RET"):
            return make("every ret through srso_return_thunk -> srso_safe_ret (Safe RET)", "modelled: safe-ret")
        case "retbleed" where content.contains("untrained return thunk"):
            return make("every ret through retbleed_return_thunk (untrained return)",
                        "not modelled: a predicted jmp + ret, run as a plain ret")
        case "retbleed" where content.contains("Stuffing"):
            return make("call depth tracking: a per-CPU depth shifted in each call thunk, returns through __x86_return_skl",
                        "not modelled: plain calls and returns")
        case "indirect_target_selection" where content.contains("Aligned branch/return thunks"):
            return make("returns through its_return_thunk and indirect branches through ITS-safe thunks (aligned)",
                        "not modelled: an aligned, predicted ret, run as a plain ret")
        case "indirect_target_selection" where content.contains("Retpolines"):
            return make("indirect branches through retpolines (ITS)", "modelled with --mitigations retpoline")
        default:
            return nil
        }
    }

    static let files = ["spectre_v2", "spec_rstack_overflow", "retbleed", "indirect_target_selection"]

    public static func read(root: String = "/sys/devices/system/cpu/vulnerabilities") -> KernelThunks {
        KernelThunks(shapes: files.compactMap { file in
            guard let text = try? String(contentsOfFile: "\(root)/\(file)", encoding: .utf8) else { return nil }
            let line = text.split(separator: "\n").first.map(String.init) ?? ""
            return shape(file: file, content: line)
        })
    }

    /// This machine's, read once.
    public static let running = KernelThunks.read()
}
