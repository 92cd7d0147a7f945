/// Why a .fgraph file cannot be written or used. Always names the file.
public struct FormatError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let reason: String
    public init(_ path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// Messages quote names read from hostile files: keep them on one printable
/// line (control characters, including NUL, shown as \u{…}).
public func oneLine(_ message: String) -> String {
    var out = ""
    for u in message.unicodeScalars {
        if u == "\n" || u == "\r" { out += " " }
        else if isControlCharacter(u) || u == "\u{2028}" || u == "\u{2029}" {
            out += "\\u{\(String(u.value, radix: 16))}"
        } else { out.unicodeScalars.append(u) }
    }
    return out
}

/// C0 and C1 control characters and DEL: what must never reach a terminal
/// raw (the loader refuses names holding one; messages escape them).
public func isControlCharacter(_ u: Unicode.Scalar) -> Bool {
    u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value)
}
