import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// Every failure ends as one line on stderr ("facec: <file>: <reason>") and a
/// non-zero exit; usage errors exit 64 like ArgumentParser's own.
struct Facec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facec",
        abstract: "Convert face recognition weights into compiled .fgraph models and run them.",
        version: "facec 0.1.0",
        subcommands: [ConvertCommand.self, RunCommand.self, VerifyCommand.self, InspectCommand.self, CheckCommand.self])
}

func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    fputs("facec: \(line)\n", stderr)
    exit(code)
}

do {
    var command = try Facec.parseAsRoot()
    try command.run()
} catch let error as CleanExit {
    Facec.exit(withError: error)
} catch let error as ExitCode {
    exit(error.rawValue)
} catch {
    let code = Facec.exitCode(for: error)
    if code == .validationFailure || String(describing: type(of: error)).contains("Parser") || code.rawValue == 64 {
        let first = Facec.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid arguments"
        fail("\(first) (see 'facec --help')", code: 64)
    }
    fail(String(describing: error))
}
