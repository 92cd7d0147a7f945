import FacecCore
#if canImport(Glibc)
import Glibc

#endif

/// dlib's serialization primitives (dlib/serialize.h, dlib/float_details.h,
/// dlib/cuda/tensor.h), read from bytes already in memory. Every length and
/// count is checked against what remains of the file before it is used, so a
/// hostile file can neither make the reader allocate more than the file holds
/// nor read past its end. Faults are `ReadFault`s; the caller names the file.
package struct DlibStream {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }
    var atEnd: Bool { offset == bytes.count }

    mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw ReadFault("the file ends early (at byte \(offset))") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// dlib's integer encoding: a control byte whose low 4 bits count the
    /// little-endian magnitude bytes that follow (1...width) and whose bit
    /// 0x80 marks a negative value (signed types only).
    package mutating func integer(signed: Bool, width: Int, _ what: String) throws -> Int64 {
        let at = offset
        let control = try byte()
        let negative = control & 0x80 != 0
        // dlib ignores bits 0x70 of a signed type's control byte and refuses
        // a sign bit on an unsigned one.
        let size = Int(control & 0x0F)
        guard size >= 1, size <= width, !(negative && !signed) else {
            throw ReadFault("\(what) at byte \(at): invalid integer control byte 0x\(String(control, radix: 16))")
        }
        guard remaining >= size else { throw ReadFault("the file ends inside \(what) (at byte \(at))") }
        var magnitude: UInt64 = 0
        for i in (0..<size).reversed() { magnitude = magnitude << 8 | UInt64(bytes[offset + i]) }
        offset += size
        let limit: UInt64 = signed ? UInt64(Int64.max) >> (64 - 8 * width) : (width == 8 ? UInt64(Int64.max) : (1 << (8 * width)) - 1)
        guard magnitude <= limit else { throw ReadFault("\(what) at byte \(at) is out of range") }
        return negative ? -Int64(magnitude) : Int64(magnitude)
    }

    /// A C++ `int` (dlib writes versions, strides and paddings as int).
    mutating func int32(_ what: String) throws -> Int { Int(try integer(signed: true, width: 4, what)) }
    /// A C++ `long` / `long long`.
    mutating func int64(_ what: String) throws -> Int { Int(try integer(signed: true, width: 8, what)) }
    mutating func uint64(_ what: String) throws -> Int { Int(try integer(signed: false, width: 8, what)) }

    /// A std::string: its length (unsigned long), then the bytes. Names in a
    /// network file are short; anything longer is a sign of another format.
    package mutating func string(_ what: String, maxLength: Int = 256) throws -> String {
        let at = offset
        let length = try uint64(what + "'s length")
        guard length <= maxLength else { throw ReadFault("\(what) at byte \(at) claims \(length) characters") }
        guard remaining >= length else { throw ReadFault("the file ends inside \(what) (at byte \(at))") }
        let text = bytes[offset..<(offset + length)]
        offset += length
        return String(decoding: text, as: UTF8.self)
    }

    /// dlib writes a bool as the ASCII character '1' or '0'.
    mutating func bool(_ what: String) throws -> Bool {
        let at = offset
        switch try byte() {
        case UInt8(ascii: "1"): return true
        case UInt8(ascii: "0"): return false
        case let b: throw ReadFault("\(what) at byte \(at): expected the character '0' or '1', found 0x\(String(b, radix: 16))")
        }
    }

    /// A scalar float as dlib's float_details: the mantissa (int64) then the
    /// exponent (int16), value = ldexp((float)mantissa, exponent), with
    /// exponents 32000...32002 meaning +inf, -inf and NaN. (dlib before 2014
    /// wrote floats as ASCII text; its first byte has bits 0x70 set.)
    package mutating func float(_ what: String) throws -> Float {
        guard offset < bytes.count else { throw ReadFault("the file ends early (at byte \(offset))") }
        guard bytes[offset] & 0x70 == 0 else {
            throw ReadFault("\(what) at byte \(offset) uses dlib's old ASCII float format, which facec does not read")
        }
        let mantissa = try integer(signed: true, width: 8, what + "'s mantissa")
        let exponent = try integer(signed: true, width: 2, what + "'s exponent")
        switch exponent {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002...: return .nan
        default: return ldexpf(Float(mantissa), Int32(exponent))
        }
    }

    /// A tensor (version 2): four dimensions, then the values as little-endian
    /// IEEE floats, returned as their place in the file (read when needed).
    mutating func tensor(_ what: String) throws -> DlibTensor {
        let version = try int32(what + "'s version")
        guard version == 2 else { throw ReadFault("\(what): unsupported tensor version \(version) (dlib writes 2)") }
        let dims = try (0..<4).map { _ in try int64(what + "'s size") }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw ReadFault("\(what) has a negative size \(dims)") }
        var count = 1
        for d in dims {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= remaining / 4 else {
                throw ReadFault("\(what) claims \(dims.map(String.init).joined(separator: "×")) values; the file has \(remaining) bytes left")
            }
            count = p
        }
        let t = DlibTensor(dims: dims, offset: offset)
        // A NaN or infinite weight would poison every embedding: refused here,
        // where the file and the byte can still be named.
        let bad = bytes.withUnsafeBytes { raw in
            (0..<count).first { i in
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)) & 0x7F80_0000 == 0x7F80_0000
            }
        }
        if let i = bad { throw ReadFault("\(what) holds a value that is not finite (at byte \(offset + 4 * i))") }
        offset += count * 4
        return t
    }

    /// An alias_tensor (version 1): only the four dimensions of a view.
    mutating func aliasTensor(_ what: String) throws -> [Int] {
        let version = try int32(what + "'s version")
        guard version == 1 else { throw ReadFault("\(what): unsupported alias_tensor version \(version)") }
        return try (0..<4).map { _ in try int64(what + "'s size") }
    }

    /// The float32 values of a tensor read earlier, `range` of them.
    package func values(of t: DlibTensor, _ range: Range<Int>) -> [Float] {
        precondition(range.lowerBound >= 0 && range.upperBound <= t.count)
        return [Float](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                for i in 0..<range.count {
                    let bits = raw.loadUnaligned(fromByteOffset: t.offset + 4 * (range.lowerBound + i), as: UInt32.self)
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: bits))
                }
            }
            initialized = range.count
        }
    }
}

/// A tensor's dimensions (num_samples, k, nr, nc) and where its values lie.
package struct DlibTensor {
    package let dims: [Int]
    let offset: Int
    package var count: Int { dims.reduce(1, *) }
}
