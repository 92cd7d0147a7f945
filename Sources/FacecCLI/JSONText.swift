/// Minimal JSON writing for the CLI's line-oriented output (no Foundation
/// formatting surprises: floats print in Swift's shortest round-trip form).
public enum JSONText {
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    public static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
    public static func number(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
    /// deepface's confidence as Python's json.dumps writes it: an int where
    /// deepface returns an int (its clamps), else a float.
    public static func confidence(_ c: (value: Double, isInteger: Bool)) -> String {
        c.isInteger ? "\(Int(c.value))" : number(c.value)
    }
    public static func array(_ xs: [Float]) -> String { "[" + xs.map { number($0) }.joined(separator: ",") + "]" }

    /// An object from ordered (key, already-encoded value) pairs.
    public static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}
