import CZlib
import Foundation

/// A tiny Level-5 MAT writer for hostile test files: every size can be
/// made to lie. Little-endian unless `bigEndian`.
struct MatV5TestWriter {
    var bigEndian = false

    func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian, Array.init) }
    func i32(_ v: Int32) -> [UInt8] { u32(UInt32(bitPattern: v)) }
    func f64(_ v: Double) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bitPattern.bigEndian : v.bitPattern.littleEndian, Array.init) }
    func u16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian, Array.init) }

    func header() -> [UInt8] {
        Array("MATLAB 5.0 MAT-file, facec MatV5ReaderTests".utf8).padded(to: 116, with: 0x20)
            + [UInt8](repeating: 0, count: 8) + u16(0x0100) + Array((bigEndian ? "MI" : "IM").utf8)
    }

    /// A data element; `declared` overrides the byte count in the tag.
    func element(_ type: UInt32, _ payload: [UInt8], declared: UInt32? = nil, pad: Bool = true) -> [UInt8] {
        u32(type) + u32(declared ?? UInt32(payload.count)) + payload + (pad ? [UInt8](repeating: 0, count: (8 - payload.count % 8) % 8) : [])
    }

    /// The small data element form (1…4 bytes in the tag).
    func small(_ type: UInt32, _ payload: [UInt8]) -> [UInt8] {
        u32(UInt32(payload.count) << 16 | type) + payload + [UInt8](repeating: 0, count: 4 - payload.count)
    }

    /// An miMATRIX element: flags, dimensions, name, then `body`.
    func matrix(_ classCode: UInt32, dims: [Int32], name: String = "", flags: UInt32 = 0, body: [UInt8], declared: UInt32? = nil) -> [UInt8] {
        let content = element(6, u32(classCode | flags) + u32(0))
            + element(5, dims.flatMap(i32))
            + element(1, Array(name.utf8))
            + body
        return element(14, content, declared: declared)
    }

    func doubles(_ name: String = "", dims: [Int32], _ values: [Double]) -> [UInt8] {
        matrix(6, dims: dims, name: name, body: element(9, values.flatMap(f64)))
    }

    func text(_ s: String, name: String = "") -> [UInt8] {
        let units = Array(s.utf16)
        return matrix(4, dims: [1, Int32(units.count)], name: name, body: element(4, units.flatMap(u16)))
    }

    func cell(_ name: String = "", dims: [Int32], _ elements: [[UInt8]]) -> [UInt8] {
        matrix(1, dims: dims, name: name, body: elements.flatMap { $0 })
    }

    func structure(_ name: String = "", dims: [Int32] = [1, 1], nameLength: Int32 = 32, fields: [String], values: [[UInt8]]) -> [UInt8] {
        let names = fields.flatMap { Array($0.utf8).padded(to: Int(max(nameLength, 0)), with: 0) }
        return matrix(2, dims: dims, name: name, body: small(5, i32(nameLength)) + element(1, names) + values.flatMap { $0 })
    }

    /// An miCOMPRESSED element holding `inner` (zlib, streamed so that a
    /// bomb need not exist uncompressed in memory).
    func compressed(_ inner: [UInt8], thenZeros zeros: Int = 0) -> [UInt8] {
        let z = Self.deflate(inner, thenZeros: zeros)
        return u32(15) + u32(UInt32(z.count)) + z
    }

    static func deflate(_ head: [UInt8], thenZeros zeros: Int) -> [UInt8] {
        var s = z_stream()
        precondition(deflateInit_(&s, 9, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&s) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        func feed(_ input: [UInt8], finish: Bool) {
            var input = input
            input.withUnsafeMutableBufferPointer { inp in
                s.next_in = inp.baseAddress
                s.avail_in = UInt32(inp.count)
                var status = Z_OK
                repeat {
                    chunk.withUnsafeMutableBufferPointer { o in
                        s.next_out = o.baseAddress
                        s.avail_out = UInt32(o.count)
                        status = CZlib.deflate(&s, finish ? Z_FINISH : Z_NO_FLUSH)
                        out += o[0..<(o.count - Int(s.avail_out))]
                    }
                } while s.avail_out == 0 || (finish && status != Z_STREAM_END)
            }
        }
        feed(head, finish: false)
        let block = [UInt8](repeating: 0, count: 1 << 20)
        var left = zeros
        while left > 0 {
            let k = min(left, block.count)
            feed(Array(block[0..<k]), finish: false)
            left -= k
        }
        feed([], finish: true)
        return out
    }

    func file(_ elements: [UInt8]...) -> [UInt8] { header() + elements.flatMap { $0 } }
}

extension Array where Element == UInt8 {
    func padded(to n: Int, with byte: UInt8) -> [UInt8] { self + [UInt8](repeating: byte, count: Swift.max(0, n - count)) }

    /// Written to a file in `dir`, returning its path.
    func written(_ dir: TempDir, _ name: String) -> String {
        let p = dir.path(name)
        FileManager.default.createFile(atPath: p, contents: Data(self))
        return p
    }
}
