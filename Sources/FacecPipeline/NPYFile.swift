import FacecCore
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// NumPy `.npy` files of little-endian float32 (`<f4`, C order): read for
/// `facec run` inputs already preprocessed, written for `--npy` outputs.
public struct NPYFile: Sendable {
    public let shape: [Int]
    public let values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count)
        self.shape = shape; self.values = values
    }

    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // \x93NUMPY

    public static func read(_ path: String, maxBytes: Int = 1 << 31) throws -> NPYFile {
        let bytes = try readWholeFile(path, maxBytes: maxBytes)
        func fail(_ reason: String) -> FacecError { FacecError(.input, path, reason) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file") }
        let major = bytes[6]
        let headerLength: Int, start: Int
        switch major {
        case 1: headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; start = 12
        default: throw fail(".npy format version \(major) is not supported")
        }
        guard headerLength <= 1 << 16, start + headerLength <= bytes.count else { throw fail("truncated .npy header") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard let descr = field(header, "descr") else { throw fail("the .npy header has no 'descr'") }
        guard descr == "'<f4'" || descr == "'float32'" else {
            throw fail("holds \(descr) data; facec takes little-endian float32 ('<f4')")
        }
        guard field(header, "fortran_order") == "False" else { throw fail("Fortran-ordered arrays are not supported") }
        guard let shapeText = field(header, "shape") else { throw fail("the .npy header has no 'shape'") }
        let dims = shapeText.filter { $0 != "(" && $0 != ")" && $0 != " " }.split(separator: ",").map { Int($0) }
        guard !dims.isEmpty, dims.allSatisfy({ $0 != nil && $0! >= 0 && $0! <= 1 << 30 }) else {
            throw fail("invalid shape \(shapeText)")
        }
        let shape = dims.map { $0! }
        var count = 1
        for d in shape {
            let (r, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw fail("shape \(shape) is too large") }
            count = r
        }
        let dataStart = start + headerLength
        // count × 4 can itself overflow (libFuzzer: a shape of 14 dims whose
        // product fits in Int but not four times it): compare by division.
        let available = bytes.count - dataStart
        guard available % 4 == 0, count == available / 4 else {
            throw fail("shape \(shape) needs \(count) float32 values, the file has \(available) bytes of data (truncated?)")
        }
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, n in
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: dataStart + i * 4, as: UInt32.self)))
                }
            }
            n = count
        }
        return NPYFile(shape: shape, values: values)
    }

    /// The .npy encoding (version 1.0), header padded to a 64-byte boundary.
    public func encoded() -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = Self.magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    /// The value text of `key` in the header dict (a Python literal).
    private static func field(_ header: String, _ key: String) -> String? {
        guard let end = header.endOfFirst("'\(key)':") else { return nil }
        var rest = header[end...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        rest = rest.prefix { $0 != "," && $0 != "}" }
        return String(rest).trimmingTrailingSpaces()
    }
}

extension String {
    /// Where the first occurrence of `needle` ends (the standard library's
    /// own search, not _StringProcessing's, which would link the regex engine
    /// into facec-run).
    fileprivate func endOfFirst(_ needle: String) -> String.Index? {
        let n = Array(needle.utf8)
        guard !n.isEmpty else { return startIndex }
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i...].starts(with: n) { return utf8.index(i, offsetBy: n.count) }
            i = utf8.index(after: i)
        }
        return nil
    }

    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// Reads a whole (bounded) regular file, with one-line errors naming it.
func readWholeFile(_ path: String, maxBytes: Int) throws -> [UInt8] {
    switch InputFile.readAll(path, maxBytes: maxBytes) {
    case .success(let bytes): return bytes
    case .failure(let problem): throw FacecError(.io, path, problem.reason)
    }
}

/// Reads a whole text file (pairs lists).
public func readTextFile(_ path: String, maxBytes: Int = 64 << 20) throws -> String {
    String(decoding: try readWholeFile(path, maxBytes: maxBytes), as: UTF8.self)
}
