/// A small, strict XML reader for OpenCV's FileStorage files (cascades):
/// elements, attributes, text, comments and the XML declaration; no DTDs,
/// processing instructions or CDATA. Sizes and nesting are bounded, so a
/// hostile file cannot make it recurse or allocate without limit.
package struct MiniXML {
    package final class Element {
        package let name: String
        package var attributes: [String: String] = [:]
        package var children: [Element] = []
        /// The text directly inside the element (between its children), concatenated.
        package var text = ""
        init(name: String) { self.name = name }

        package func child(_ name: String) -> Element? { children.first { $0.name == name } }
    }

    package struct Failure: Error {
        package let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    static let maxDepth = 64, maxElements = 5_000_000

    /// Parses a whole document and returns its root element.
    package static func parse(_ bytes: [UInt8]) throws -> Element {
        var p = Parser(bytes: bytes)
        return try p.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0
        var elements = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var line: Int { bytes[..<min(i, bytes.count)].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) } }
        func fail(_ what: String) -> Failure { Failure("\(what) at line \(line)") }

        func peek(_ s: String) -> Bool {
            let u = Array(s.utf8)
            return i + u.count <= bytes.count && bytes[i..<(i + u.count)].elementsEqual(u)
        }

        mutating func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }

        /// Skips past the next `end`, or fails.
        mutating func skip(past end: String, what: String) throws {
            let u = Array(end.utf8)
            while i + u.count <= bytes.count {
                if bytes[i..<(i + u.count)].elementsEqual(u) { i += u.count; return }
                i += 1
            }
            throw fail("unterminated \(what)")
        }

        /// Declaration, comments and whitespace before and between elements.
        mutating func skipMisc() throws {
            while true {
                skipSpace()
                if peek("<?") { try skip(past: "?>", what: "declaration") } else if peek("<!--") { try skip(past: "-->", what: "comment") } else { return }
            }
        }

        mutating func document() throws -> Element {
            if peek("\u{FEFF}") { i += 3 }
            try skipMisc()
            guard peek("<"), !peek("<!") else { throw fail("no root element") }
            let root = try element(depth: 0)
            try skipMisc()
            guard i == bytes.count else { throw fail("content after the root element") }
            return root
        }

        package mutating func name() throws -> String {
            let start = i
            while i < bytes.count {
                let c = bytes[i]
                let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                    || c == 0x5F || c == 0x2D || c == 0x2E || c == 0x3A || c >= 0x80
                guard ok else { break }
                i += 1
            }
            guard i > start, i - start <= 256 else { throw fail("bad name") }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        mutating func element(depth: Int) throws -> Element {
            guard depth < MiniXML.maxDepth else { throw fail("elements nested more than \(MiniXML.maxDepth) deep") }
            elements += 1
            guard elements <= MiniXML.maxElements else { throw fail("more than \(MiniXML.maxElements) elements") }
            i += 1   // "<"
            let e = Element(name: try name())
            while true {
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated tag <\(e.name)>") }
                if peek("/>") { i += 2; return e }
                if bytes[i] == 0x3E { i += 1; break }
                let key = try name()
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x3D else { throw fail("attribute \(key) without a value") }
                i += 1
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x22 || bytes[i] == 0x27 else { throw fail("attribute \(key) without quotes") }
                let quote = bytes[i]
                i += 1
                let start = i
                while i < bytes.count, bytes[i] != quote { i += 1 }
                guard i < bytes.count else { throw fail("unterminated attribute \(key)") }
                e.attributes[key] = try unescape(bytes[start..<i])
                i += 1
            }
            var text: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("element <\(e.name)> is not closed") }
                if peek("</") {
                    i += 2
                    let closing = try name()
                    guard closing == e.name else { throw fail("</\(closing)> closes <\(e.name)>") }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == 0x3E else { throw fail("bad closing tag </\(closing)") }
                    i += 1
                    e.text = try unescape(text[...])
                    return e
                }
                if peek("<!--") { try skip(past: "-->", what: "comment"); continue }
                if peek("<!") || peek("<?") { throw fail("unsupported markup in <\(e.name)>") }
                if bytes[i] == 0x3C {
                    e.children.append(try element(depth: depth + 1))
                    continue
                }
                text.append(bytes[i])
                i += 1
            }
        }

        func unescape(_ raw: ArraySlice<UInt8>) throws -> String {
            guard raw.contains(0x26) else { return String(decoding: raw, as: UTF8.self) }
            var out: [UInt8] = []
            var k = raw.startIndex
            while k < raw.endIndex {
                guard raw[k] == 0x26 else { out.append(raw[k]); k += 1; continue }
                guard let semi = raw[k...].firstIndex(of: 0x3B), semi - k <= 10 else { throw fail("bad entity") }
                switch String(decoding: raw[(k + 1)..<semi], as: UTF8.self) {
                case "lt": out.append(0x3C)
                case "gt": out.append(0x3E)
                case "amp": out.append(0x26)
                case "quot": out.append(0x22)
                case "apos": out.append(0x27)
                default: throw fail("unsupported entity")
                }
                k = semi + 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
