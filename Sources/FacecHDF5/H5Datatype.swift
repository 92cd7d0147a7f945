import FacecCore
/// An HDF5 datatype, as far as facec reads data of it.
package indirect enum H5Datatype: Equatable {
    case integer(size: Int, signed: Bool, bigEndian: Bool)
    case float(size: Int, bigEndian: Bool)
    /// Fixed-length string; `spacePadded` for SPACEPAD (else NUL-terminated or NUL-padded).
    case string(size: Int, spacePadded: Bool)
    case variableString
    case variableSequence(of: H5Datatype)
    /// Object reference (an object header address) or region reference.
    case reference(size: Int, object: Bool)
    case compound(size: Int, members: [H5Datatype])
    /// Any other class (time, bitfield, opaque, enum, array), refused when read.
    case other(typeClass: Int, size: Int)

    package var size: Int {
        switch self {
        case .integer(let s, _, _), .float(let s, _), .string(let s, _), .reference(let s, _), .compound(let s, _), .other(_, let s): return s
        case .variableString, .variableSequence: return 16
        }
    }

    /// Bytes per element in the file (variable-length elements are a
    /// length, a global heap address and an index).
    func storedSize(offsetSize: Int) -> Int {
        switch self {
        case .variableString, .variableSequence: return 8 + offsetSize
        default: return size
        }
    }

    package var isInteger: Bool { if case .integer = self { return true } else { return false } }
    package var isFloat: Bool { if case .float = self { return true } else { return false } }
    package var isObjectReference: Bool { if case .reference(_, true) = self { return true } else { return false } }

    /// HDF5's type class number (for messages).
    package var typeClass: Int {
        switch self {
        case .integer: return 0
        case .float: return 1
        case .string: return 3
        case .variableString, .variableSequence: return 9
        case .reference: return 7
        case .compound: return 6
        case .other(let c, _): return c
        }
    }

    /// Parses a datatype message (recursively for sequences and compounds,
    /// at most `depth` levels).
    static func parse(_ c: inout H5Cursor, depth: Int = 0) throws -> H5Datatype {
        guard depth < 8 else { throw ReadFault("has a datatype nested too deeply") }
        let classVersion = try c.u8()
        let typeClass = Int(classVersion & 0x0F), version = Int(classVersion >> 4)
        let bits0 = try c.u8(), bits1 = try c.u8()
        try c.skip(1)
        let size = try c.u32()
        guard size > 0, size <= 1 << 20 else { throw ReadFault("has a datatype of \(size) bytes") }
        let bigEndian = bits0 & 1 != 0
        switch typeClass {
        case 0:
            try c.skip(4)   // bit offset, precision
            guard [1, 2, 4, 8].contains(size) else { throw ReadFault("has \(size)-byte integers") }
            return .integer(size: size, signed: bits0 & 0x08 != 0, bigEndian: bigEndian)
        case 1:
            try c.skip(12)  // bit offset, precision, exponent and mantissa layout, bias
            guard bits0 & 0x40 == 0 else { throw ReadFault("has VAX-ordered floating-point numbers") }
            guard [4, 8].contains(size) else { throw ReadFault("has \(size)-byte floating-point numbers") }
            return .float(size: size, bigEndian: bigEndian)
        case 3:
            return .string(size: size, spacePadded: bits0 & 0x0F == 2)
        case 7:
            let isObject = bits0 & 0x0F == 0
            return .reference(size: size, object: isObject)
        case 9:
            let base = try parse(&c, depth: depth + 1)
            return bits0 & 0x0F == 1 ? .variableString : .variableSequence(of: base)
        case 6:
            let count = Int(bits0) | Int(bits1) << 8
            guard count <= 256 else { throw ReadFault("has a compound of \(count) members") }
            var members: [H5Datatype] = []
            for _ in 0..<count {
                let nameStart = c.position
                _ = try c.cString(limit: 1024)
                if version < 3 {
                    // Name padded to 8 bytes, 4-byte offset, v1's array fields.
                    let used = c.position - nameStart
                    try c.skip((8 - used % 8) % 8)
                    _ = try c.u32()
                    if version == 1 { try c.skip(28) }
                } else {
                    _ = try c.uint(size < 256 ? 1 : size < 65_536 ? 2 : size < 1 << 24 ? 3 : 4)
                }
                members.append(try parse(&c, depth: depth + 1))
            }
            return .compound(size: size, members: members)
        default:
            return .other(typeClass: typeClass, size: size)
        }
    }
}

/// An HDF5 dataspace: nil dims for a null space, [] for a scalar.
struct H5Dataspace {
    package let dims: [UInt64]?

    /// Element count, nil when it overflows.
    package var count: Int? {
        guard let dims else { return 0 }
        var n = 1
        for d in dims {
            guard d <= UInt64(Int.max) else { return nil }
            let (r, o) = n.multipliedReportingOverflow(by: Int(d))
            if o { return nil }
            n = r
        }
        return n
    }

    package static func parse(_ c: inout H5Cursor) throws -> H5Dataspace {
        let version = try c.u8()
        let rank = Int(try c.u8()), flags = try c.u8()
        guard rank <= 32 else { throw ReadFault("has a dataspace of rank \(rank)") }
        var isNull = false
        switch version {
        case 1: try c.skip(5)
        case 2:
            let type = try c.u8()
            guard type <= 2 else { throw ReadFault("has an unknown dataspace type \(type)") }
            isNull = type == 2
        default: throw ReadFault("has a dataspace of unknown version \(version)")
        }
        var dims: [UInt64] = []
        for _ in 0..<rank { dims.append(try c.uint(c.lengthSize)) }
        if flags & 1 != 0 { try c.skip(rank * c.lengthSize) }   // maximum dimensions
        return H5Dataspace(dims: isNull ? nil : dims)
    }
}
