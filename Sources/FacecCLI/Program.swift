import CCPUFeatures
import CCommandLine
import FacecCore
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// What `facec` and `facec-run` share: the runtime subcommands, and the rule
/// that every failure ends as one line on stderr ("<program>: <file>:
/// <reason>") and a non-zero exit; usage errors exit 64 (EX_USAGE).
public enum Program {
    /// The name failures start with (the executable's own).
    nonisolated(unsafe) public static var name = "facec"
    public static let version = "0.1.0"

    /// The subcommands that need only the runtime (no importers).
    public static var runtimeCommands: [any Command.Type] {
        [RunCommand.self, VerifyCommand.self, DetectCommand.self, InspectCommand.self, CheckCommand.self, BenchCommand.self]
    }

    /// Parses the command line and runs the subcommand; never returns.
    public static func main(_ program: ProgramSpec) -> Never {
        name = program.name
        // Before any kernel code can run: the runtime is built for x86-64-v3.
        if let missing = facec_missing_cpu_feature() {
            fail("this CPU lacks \(String(cString: missing)), which this \(name) build's kernels use (x86-64-v3: AVX2, FMA); build facec on this machine without -march=x86-64-v3 in Package.swift")
        }
        do {
            switch try CommandLineParser.request(Array(arguments().dropFirst()), program: program) {
            case .help(let text):
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            case .run(let command):
                try command.run()
            }
        } catch let error as FacecError where error.kind == .usage {
            fail("\(error.reason) (see '\(name) --help')", code: 64)
        } catch let error as ExitStatus {
            exit(error.code)
        } catch {
            fail(String(describing: error))
        }
        exit(0)
    }
}

/// The command line: from the ELF constructor's argv when it ran (always, with
/// glibc), else Swift's CommandLine (which needs /proc in a static binary).
func arguments() -> [String] {
    let n = Int(facec_argc())
    guard n > 0, let argv = facec_argv() else { return CommandLine.arguments }
    return (0..<n).map { argv[$0].map { String(cString: $0) } ?? "" }
}

/// Ends a run with this status after its own messages (e.g. some photos failed).
public struct ExitStatus: Error {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
}

/// One line on stderr, then exit.
public func fail(_ message: String, code: Int32 = 1) -> Never {
    report(message)
    exit(code)
}

/// One line on stderr ("<program>: <message>"); the run goes on.
public func report(_ message: String) {
    writeStandardError("\(Program.name): \(oneLine(message))\n")
}

