import ArgumentParser
import CCPUFeatures
#if canImport(Glibc)
import Glibc
#endif

/// Every failure ends as one line on stderr ("facec: <file>: <reason>") and a
/// non-zero exit; usage errors exit 64 like ArgumentParser's own.
struct Facec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facec",
        abstract: "Convert face recognition weights into compiled .fgraph models and run them on photos.",
        version: "facec 0.1.0",
        subcommands: [ConvertCommand.self, RunCommand.self, VerifyCommand.self, DetectCommand.self, InspectCommand.self, CheckCommand.self, BenchCommand.self])
}

func fail(_ message: String, code: Int32 = 1) -> Never {
    fputs("facec: \(oneLine(message))\n", stderr)
    exit(code)
}

/// Messages quote names read from hostile files: keep them on one printable
/// line (control characters, including NUL, shown as \u{…}).
func oneLine(_ message: String) -> String {
    var out = ""
    for u in message.unicodeScalars {
        if u == "\n" || u == "\r" { out += " " }
        else if u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value) || u == "\u{2028}" || u == "\u{2029}" {
            out += "\\u{\(String(u.value, radix: 16))}"
        } else { out.unicodeScalars.append(u) }
    }
    return out
}

// Before any kernel code can run: the runtime is built for x86-64-v3.
if let missing = facec_missing_cpu_feature() {
    fail("this CPU lacks \(String(cString: missing)), which this facec build's kernels use (x86-64-v3: AVX2, FMA); build facec on this machine without -march=x86-64-v3 in Package.swift")
}

/// Errors that come from argument parsing (also when raised while running,
/// as a subcommand's help request is).
func isUsageError(_ error: Error) -> Bool {
    error is ValidationError || error is CleanExit || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
}

func usageFailure(_ error: Error) -> Never {
    if Facec.exitCode(for: error) == .success { Facec.exit(withError: error) }   // --help, --version
    let first = Facec.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid arguments"
    fail("\(first) (see 'facec --help')", code: 64)
}

do {
    var command = try Facec.parseAsRoot()
    try command.run()
} catch let error as ExitCode {
    exit(error.rawValue)
} catch where isUsageError(error) {
    usageFailure(error)
} catch {
    fail(String(describing: error))
}
