import FacecCore
/// The pair list of `facec verify --pairs`, in deepface's master.csv format:
/// a header `file_x,file_y[,Decision]` then one pair per line; Decision is
/// Yes/No (also true/false, 1/0). CRLF and quoted fields are accepted.
public struct PairsFile: Sendable {
    public struct Pair: Sendable {
        public let fileX: String
        public let fileY: String
        public let sameIdentity: Bool?
        public let line: Int
    }

    public let pairs: [Pair]
    public var hasLabels: Bool { pairs.contains { $0.sameIdentity != nil } }

    public init(text: String, path: String) throws {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
        guard let headerLine = lines.first else { throw FacecError(.input, path, "empty pairs file") }
        let header = Self.fields(headerLine).map { $0.lowercased() }
        guard let ix = header.firstIndex(of: "file_x"), let iy = header.firstIndex(of: "file_y") else {
            throw FacecError(.input, path, "line 1: expected a header with file_x,file_y[,Decision], found '\(headerLine.prefix(80))'")
        }
        let id = header.firstIndex(of: "decision")
        var pairs: [Pair] = []
        for (n, line) in lines.enumerated().dropFirst() where !line.allSatisfy(\.isWhitespace) {
            let f = Self.fields(line)
            guard f.count > max(ix, iy), !f[ix].isEmpty, !f[iy].isEmpty else {
                throw FacecError(.input, path, "line \(n + 1): expected \(header.count) fields, found \(f.count)")
            }
            var label: Bool? = nil
            if let id, id < f.count, !f[id].isEmpty {
                switch f[id].lowercased() {
                case "yes", "true", "1", "same": label = true
                case "no", "false", "0", "different": label = false
                default: throw FacecError(.input, path, "line \(n + 1): Decision '\(f[id])' is not Yes or No")
                }
            }
            pairs.append(Pair(fileX: f[ix], fileY: f[iy], sameIdentity: label, line: n + 1))
        }
        guard !pairs.isEmpty else { throw FacecError(.input, path, "no pairs after the header") }
        self.pairs = pairs
    }

    /// Splits one CSV line (RFC 4180 quotes, no embedded newlines).
    static func fields(_ line: String) -> [String] {
        var out: [String] = [], field = "", quoted = false
        var it = line.makeIterator()
        while let c = it.next() {
            if quoted {
                if c == "\"" {
                    if let n = it.next() {
                        if n == "\"" { field.append("\"") } else { quoted = false; if n == "," { out.append(field); field = "" } else { field.append(n) } }
                    } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { out.append(field); field = "" }
            else { field.append(c) }
        }
        out.append(field)
        return out.map(trimmed)
    }
}

private func trimmed(_ s: String) -> String {
    var t = Substring(s)
    while let f = t.first, f.isWhitespace { t.removeFirst() }
    while let l = t.last, l.isWhitespace { t.removeLast() }
    return String(t)
}
