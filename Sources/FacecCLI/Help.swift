/// `--help` texts, wrapped to 80 columns.
enum Help {
    static func root(_ p: ProgramSpec) -> String {
        var out = "OVERVIEW: \(p.abstract)\n\nUSAGE: \(p.name) <subcommand>\n\nOPTIONS:\n"
        out += rows([("--version", "Show the version."), ("-h, --help", "Show help information.")])
        out += "\nSUBCOMMANDS:\n" + rows(p.commands.map { ($0.spec.name, $0.spec.abstract) })
        out += "\n  See '\(p.name) help <subcommand>' for detailed help.\n"
        return out
    }

    static func command(_ s: CommandSpec, program: String) -> String {
        var usage = "\(program) \(s.name)"
        for a in s.arguments { usage += a.repeating ? (a.required ? " <\(a.name)> ..." : " [<\(a.name)> ...]") : " <\(a.name)>" }
        for o in s.options { usage += " [\(flagText(o))]" }
        var out = wrap("OVERVIEW: \(s.abstract)", indent: 0, width: 80).joined(separator: "\n") + "\n"
        if !s.discussion.isEmpty { out += "\n" + wrap(s.discussion, indent: 0, width: 80).joined(separator: "\n") + "\n" }
        out += "\nUSAGE: " + wrap(usage, indent: 7, width: 80).joined(separator: "\n").dropFirst(7) + "\n"
        if !s.arguments.isEmpty { out += "\nARGUMENTS:\n" + rows(s.arguments.map { ("<\($0.name)>", $0.help) }) }
        let options: [(String, String)] = s.options.map { o in ((o.short.map { "-\($0), " } ?? "") + flagText(o), o.help) }
        out += "\nOPTIONS:\n" + rows(options + [("-h, --help", "Show help information.")])
        return out
    }

    private static func flagText(_ o: OptionSpec) -> String {
        o.valueName.map { "--\(o.long) <\($0)>" } ?? "--\(o.long)"
    }

    /// Two columns: names at 2, texts at 26 (or on the next line when the name is long).
    private static func rows(_ items: [(String, String)]) -> String {
        var out = ""
        for (name, text) in items {
            let lines = wrap(text, indent: 26, width: 80)
            if name.count <= 22 {
                out += "  " + name + String(repeating: " ", count: 24 - name.count) + lines[0].dropFirst(26) + "\n"
                for l in lines.dropFirst() { out += l + "\n" }
            } else {
                out += "  " + name + "\n" + lines.joined(separator: "\n") + "\n"
            }
        }
        return out
    }

    /// Words into lines of at most `width` columns, each indented by `indent` spaces.
    static func wrap(_ text: String, indent: Int, width: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = [], line = pad
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if line.count > indent && line.count + 1 + word.count > width {
                lines.append(line)
                line = pad
            }
            line += (line.count > indent ? " " : "") + word
        }
        lines.append(line)
        return lines
    }
}
