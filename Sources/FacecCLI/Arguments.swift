import FacecCore
import FacecFormat

/// Command-line parsing for facec and facec-run, with the standard library
/// alone: swift-argument-parser links FoundationEssentials (≈ 5 MB of the
/// runtime binary and ≈ 3 ms of its start-up, measured), which an edge
/// binary cannot afford. The rules follow common practice: `--name value`,
/// `--name=value`, `-o value`, flags without values, `--` ends the options;
/// an option given twice is a usage error (which one was meant?), and
/// numbers are decimal only (`0x10` is not 16, `1e400` not infinity).


/// One `--long` option (with a value) or flag (without).
public struct OptionSpec: Sendable {
    public let long: String
    public let short: Character?
    /// nil for a flag.
    public let valueName: String?
    public let help: String

    public static func option(_ key: OptionKey, short: Character? = nil, value: String? = nil, help: String) -> OptionSpec {
        OptionSpec(long: key.long, short: short, valueName: value ?? key.long, help: help)
    }
    public static func flag(_ key: OptionKey, help: String) -> OptionSpec {
        OptionSpec(long: key.long, short: nil, valueName: nil, help: help)
    }
}

/// A positional argument; `repeating` takes all the remaining ones.
public struct ArgumentSpec: Sendable {
    public let name: String
    public let help: String
    public let repeating: Bool
    public let required: Bool

    public static func one(_ name: String, help: String) -> ArgumentSpec { ArgumentSpec(name: name, help: help, repeating: false, required: true) }
    public static func many(_ name: String, required: Bool = true, help: String) -> ArgumentSpec {
        ArgumentSpec(name: name, help: help, repeating: true, required: required)
    }
}

public struct CommandSpec: Sendable {
    public let name: String
    public let abstract: String
    public let discussion: String
    public let arguments: [ArgumentSpec]
    public let options: [OptionSpec]

    public init(name: String, abstract: String, discussion: String = "", arguments: [ArgumentSpec], options: [OptionSpec]) {
        self.name = name; self.abstract = abstract; self.discussion = discussion
        self.arguments = arguments; self.options = options
    }
}

/// A subcommand: its spec, a constructor from parsed arguments (which checks
/// them) and its work.
public protocol Command {
    static var spec: CommandSpec { get }
    init(_ arguments: ParsedArguments) throws
    func run() throws
}

/// The parsed command line of one subcommand, read by typed option key.
public struct ParsedArguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var positionals: [String: [String]] = [:]
    /// The options, flags and arguments the command declares: reading any
    /// other is a programming error, caught the first time a test runs it.
    var declared: Set<String> = []

    private func declaredName(_ name: String) -> String {
        precondition(declared.contains(name), "the command reads '\(name)', which its spec does not declare")
        return name
    }

    public func flag(_ key: OptionKey) -> Bool { flags.contains(declaredName(key.long)) }
    public func string(_ key: OptionKey) -> String? { values[declaredName(key.long)] }
    public func argument(_ name: String) -> String { positionals[declaredName(name)]?.first ?? "" }
    public func arguments(_ name: String) -> [String] { positionals[declaredName(name)] ?? [] }

    public func int(_ key: OptionKey) throws -> Int? {
        let long = key.long
        guard let v = string(key) else { return nil }
        guard let i = Int(v) else { throw FacecError(.usage, "", "the value '\(v)' of --\(long) is not an integer") }
        return i
    }

    /// `--threads`: 1 to `Threads.limit` (the C API's bound too).
    public func threads() throws -> Int? {
        guard let t = try int(.threads) else { return nil }
        guard (1...Threads.limit).contains(t) else { throw FacecError(.usage, "", "--threads must be 1 to \(Threads.limit) (got \(t))") }
        return t
    }

    public func double(_ key: OptionKey) throws -> Double? {
        let long = key.long
        guard let v = string(key) else { return nil }
        guard Self.isDecimal(v), let d = Double(v), d.isFinite else { throw FacecError(.usage, "", "the value '\(v)' of --\(long) is not a decimal number") }
        return d
    }

    /// [+-]digits[.digits][(e|E)[+-]digits], at least one mantissa digit:
    /// what users write, without Double's hexadecimal floats, inf and nan.
    static func isDecimal(_ s: String) -> Bool {
        var rest = Substring(s)
        func digits() -> Int {
            let n = rest.prefix { $0.isASCII && $0.isNumber }.count
            rest = rest.dropFirst(n)
            return n
        }
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        var mantissa = digits()
        if rest.first == "." { rest = rest.dropFirst(); mantissa += digits() }
        guard mantissa > 0 else { return false }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return rest.isEmpty
    }

    public func choice<E: RawRepresentable & CaseIterable>(_ key: OptionKey, _ type: E.Type) throws -> E? where E.RawValue == String {
        let long = key.long
        guard let v = string(key) else { return nil }
        guard let e = E(rawValue: v) else {
            throw FacecError(.usage, "", "the value '\(v)' of --\(long) is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return e
    }
}

/// What a command line asks for.
enum Request {
    case run(any Command)
    case help(String)
}

enum CommandLineParser {
    /// Parses a subcommand's arguments (everything after its name).
    static func parse(_ tokens: [String], spec: CommandSpec) throws -> ParsedArguments {
        var parsed = ParsedArguments()
        parsed.declared = Set(spec.options.map(\.long) + spec.arguments.map(\.name))
        var loose: [String] = []
        var i = 0, optionsEnded = false
        func find(_ t: String) -> OptionSpec? {
            if t.hasPrefix("--") { return spec.options.first { "--" + $0.long == t } }
            if t.count == 2, let c = t.dropFirst().first { return spec.options.first { $0.short == c } }
            return nil
        }
        while i < tokens.count {
            let t = tokens[i]
            i += 1
            if optionsEnded || !t.hasPrefix("-") || t == "-" {
                loose.append(t)
                continue
            }
            if t == "--" { optionsEnded = true; continue }
            var name = t, inline: String?
            if t.hasPrefix("--"), let eq = t.firstIndex(of: "=") {
                name = String(t[..<eq])
                inline = String(t[t.index(after: eq)...])
            }
            guard let o = find(name) else { throw FacecError(.usage, "", "unknown option '\(name)'") }
            guard !parsed.flags.contains(o.long) && parsed.values[o.long] == nil else {
                throw FacecError(.usage, "", "--\(o.long) is given more than once")
            }
            if o.valueName == nil {
                guard inline == nil else { throw FacecError(.usage, "", "the flag --\(o.long) takes no value") }
                parsed.flags.insert(o.long)
            } else if let inline {
                parsed.values[o.long] = inline
            } else {
                guard i < tokens.count else { throw FacecError(.usage, "", "missing value for option '\(name)'") }
                parsed.values[o.long] = tokens[i]
                i += 1
            }
        }
        // Positionals in order; a repeating one takes the rest.
        var k = 0
        for a in spec.arguments {
            if a.repeating {
                parsed.positionals[a.name] = Array(loose[k...])
                if a.required && k == loose.count { throw FacecError(.usage, "", "missing expected argument '<\(a.name)>'") }
                k = loose.count
            } else {
                guard k < loose.count else { throw FacecError(.usage, "", "missing expected argument '<\(a.name)>'") }
                parsed.positionals[a.name] = [loose[k]]
                k += 1
            }
        }
        if k < loose.count { throw FacecError(.usage, "", "unexpected argument '\(loose[k])'") }
        return parsed
    }

    /// The root: `PROGRAM SUBCOMMAND ARGS...`, `--help`, `help SUB`, `SUB --help`.
    static func request(_ tokens: [String], program: ProgramSpec) throws -> Request {
        guard let first = tokens.first else { return .help(Help.root(program)) }
        if first == "-h" || first == "--help" { return .help(Help.root(program)) }
        if first == "--version" { return .help("\(program.name) \(Program.version)") }
        if first == "help" {
            guard tokens.count > 1 else { return .help(Help.root(program)) }
            let name = tokens.count > 2 ? "\(tokens[1]) \(tokens[2])" : tokens[1]
            if let c = program.commands.first(where: { $0.spec.name == name }) {
                return .help(Help.command(c.spec, program: program.name))
            }
            return .help(Help.command(try command(tokens[1], program).spec, program: program.name))
        }
        // Two-word subcommands ("gallery add"): the longer name wins.
        let twoWords = tokens.count > 1 ? "\(first) \(tokens[1])" : ""
        let family = program.commands.map { $0.spec.name }.filter { $0.hasPrefix(first + " ") }
        var type: any Command.Type
        var rest: [String]
        if let c = program.commands.first(where: { $0.spec.name == twoWords }) {
            type = c
            rest = Array(tokens.dropFirst(2))
        } else if !family.isEmpty {
            let names = family.map { String($0.dropFirst(first.count + 1)) }.joined(separator: ", ")
            throw FacecError(.usage, "", tokens.count > 1 ? "unknown subcommand '\(twoWords)' (\(first) takes \(names))" : "'\(first)' needs one of \(names)")
        } else {
            type = try command(first, program)
            rest = Array(tokens.dropFirst())
        }
        let optionsPart = rest.firstIndex(of: "--").map { rest[..<$0] } ?? rest[...]
        if optionsPart.contains("-h") || optionsPart.contains("--help") { return .help(Help.command(type.spec, program: program.name)) }
        return .run(try type.init(try parse(rest, spec: type.spec)))
    }

    private static func command(_ name: String, _ program: ProgramSpec) throws -> any Command.Type {
        guard let c = program.commands.first(where: { $0.spec.name == name }) else {
            throw FacecError(.usage, "", name.hasPrefix("-") ? "unknown option '\(name)'" : "unknown subcommand '\(name)'")
        }
        return c
    }
}

/// The root command: a program name, a summary and its subcommands.
public struct ProgramSpec {
    public let name: String
    public let abstract: String
    public let commands: [any Command.Type]
    public init(name: String, abstract: String, commands: [any Command.Type]) {
        self.name = name; self.abstract = abstract; self.commands = commands
    }
}
