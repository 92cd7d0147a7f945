import FacecCore
/// The Level-5 element grammar (MATLAB's "MAT-File Format", ch. 1) over one
/// byte source. Every declared size is checked against the element that
/// encloses it before anything is read, and data is allocated only as the
/// source delivers it (`MatV5Input.bytes`), so a hostile count costs nothing.
/// Faults carry the element path below the variable in `within`.
struct MatV5Parser {
    package let input: MatV5Input
    /// The file's byte order differs from the machine's.
    let swapped: Bool
    /// Bytes consumed from `input`.
    private(set) var position = 0
    /// Arrays built so far (the shared empty array not counted).
    private var arrays = 0

    static let maxDepth = 64
    /// Arrays per variable, struct elements and cells per array.
    static let maxArrays = MatNode.maxCells
    /// Numeric (and char) elements per array.
    static let maxElements = 1 << 28
    static let maxRank = 32
    /// MATLAB names have at most 63 characters; anything far longer is damage.
    static let maxNameBytes = 4096
    /// Field names are stored padded to one length, 64 at most in practice
    /// (namelengthmax 63 plus a NUL).
    static let maxFieldNameLength = 64

    init(_ input: MatV5Input, swapped: Bool) {
        self.input = input
        self.swapped = swapped
    }

    struct Tag {
        let rawType: UInt32
        let size: Int
        /// The data of a small data element (packed into the tag's second word).
        let small: [UInt8]?
        var type: MiType? { MiType(rawValue: rawType) }
        var typeName: String { type?.name ?? "data type \(rawType)" }
    }

    struct Header {
        let classCode: UInt32
        let complex: Bool
        let logical: Bool
        let dims: [Int]
        package let name: String
    }

    // MARK: - Tags and plain data

    private mutating func read(_ n: Int) throws -> [UInt8] {
        let b = try input.bytes(n)
        position += n
        return b
    }

    private func word(_ b: [UInt8], _ at: Int) -> UInt32 {
        let v = UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
        return swapped ? v.byteSwapped : v
    }

    /// A tag inside an element ending at `end`: the normal form (type, byte
    /// count), or the small form (count in the upper 16 bits, data after).
    mutating func tag(end: Int) throws -> Tag {
        guard end - position >= 8 else {
            throw ReadFault(end == position ? "truncated: an element is missing" : "truncated: \(end - position) bytes where an element tag needs 8")
        }
        let b = try read(8)
        let first = word(b, 0)
        if first >> 16 != 0 {
            let size = Int(first >> 16)
            guard size <= 4 else { throw ReadFault("small data element declares \(size) bytes (at most 4)") }
            return Tag(rawType: first & 0xFFFF, size: size, small: Array(b[4..<(4 + size)]))
        }
        let size = Int(word(b, 4))
        guard size <= end - position else {
            throw ReadFault("truncated or damaged: an element declares \(size) bytes but only \(end - position) remain in the element that holds it")
        }
        return Tag(rawType: first, size: size, small: nil)
    }

    /// The data of a (non-matrix) element, and its padding to 8 bytes. A
    /// last element whose padding the enclosing size leaves out is accepted.
    mutating func data(_ tag: Tag, end: Int) throws -> [UInt8] {
        if let small = tag.small { return small }
        let b = try read(tag.size)
        let pad = min((8 - tag.size % 8) % 8, end - position)
        try input.skip(pad)
        position += pad
        return b
    }

    /// A numeric element of `type` as values (flags, dimensions, lengths).
    private mutating func integers(_ what: String, _ type: MiType, end: Int) throws -> [Int] {
        let t = try tag(end: end)
        guard t.rawType == type.rawValue else { throw ReadFault("\(what) stored as \(t.typeName), expected \(type.name)") }
        guard t.size % type.size == 0 else { throw ReadFault("\(what) of \(t.size) bytes, not a whole number of values") }
        let b = try data(t, end: end)
        return stride(from: 0, to: b.count, by: 4).map { at in
            let w = word(b, at)
            return type == .int32 ? Int(Int32(bitPattern: w)) : Int(w)
        }
    }

    // MARK: - Arrays

    /// Array flags, dimensions and name: the start of every miMATRIX.
    package mutating func header(end: Int) throws -> Header {
        let flags = try integers("array flags", .uint32, end: end)
        guard flags.count == 2 else { throw ReadFault("array flags of \(flags.count * 4) bytes, expected 8") }
        let dims = try integers("dimensions", .int32, end: end)
        guard (1...Self.maxRank).contains(dims.count) else { throw ReadFault("has \(dims.count) dimensions") }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw ReadFault("has negative dimensions \(dims)") }
        let t = try tag(end: end)
        guard t.type == .int8 || t.type == .uint8 else { throw ReadFault("name stored as \(t.typeName), expected miINT8") }
        guard t.size <= Self.maxNameBytes else { throw ReadFault("name of \(t.size) bytes") }
        var name = try data(t, end: end)[...]
        while name.last == 0 { name.removeLast() }
        let f = UInt32(truncatingIfNeeded: flags[0])
        return Header(classCode: f & 0xFF, complex: f & 0x0800 != 0, logical: f & 0x0200 != 0, dims: dims,
                      name: String(decoding: name, as: UTF8.self))
    }

    /// An miMATRIX element's contents (`size` bytes after its tag).
    mutating func matrix(size: Int, depth: Int) throws -> MatV5Array {
        if size == 0 { return .emptyArray }
        guard depth < Self.maxDepth else { throw ReadFault("arrays nested deeper than \(Self.maxDepth) levels") }
        arrays += 1
        guard arrays <= Self.maxArrays else { throw ReadFault("holds more than \(Self.maxArrays) arrays") }
        let end = position + size
        let h = try header(end: end)
        var count = 1
        for d in h.dims {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw ReadFault("dimensions \(h.dims) overflow") }
            count = p
        }
        let array: MatV5Array
        switch h.classCode {
        case 6...15:
            let c: MatClass = [.double, .single, .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64][Int(h.classCode) - 6]
            array = try numeric(h, c == .uint8 && h.logical ? .logical : c, count: count, end: end)
        case 4:
            array = try characters(h, count: count, end: end)
        case 1:
            array = try cells(h, count: count, end: end, depth: depth)
        case 2:
            array = try structure(h, count: count, end: end, depth: depth)
        case 3, 5, 16, 17:
            // Kept with their class (the importer names it in its error);
            // their contents are not read.
            let c: MatClass = h.classCode == 3 ? .object : h.classCode == 5 ? .sparse : h.classCode == 16 ? .function : .opaque
            try input.skip(end - position)
            position = end
            array = MatV5Array(c, dims: h.dims, complex: h.complex)
        default:
            throw ReadFault("unknown array class \(h.classCode)")
        }
        guard position == end else { throw ReadFault("\(end - position) bytes after the array's data, within its element") }
        return array
    }

    /// A real or imaginary part: any numeric type (converted to the class when read).
    private mutating func part(_ what: String, count: Int, end: Int, allowed: (MiType) -> Bool) throws -> MatV5Data {
        // MATLAB always writes the part; an empty array may end without it.
        if count == 0 && position == end { return MatV5Data(bytes: [], type: .double, swapped: swapped) }
        let t = try tag(end: end)
        guard let type = t.type, allowed(type) else { throw ReadFault("\(what) stored as \(t.typeName)") }
        guard t.size % type.size == 0 else { throw ReadFault("\(what) of \(t.size) bytes, not a whole number of \(t.typeName) values") }
        // Checked before reading: the declared size must match the dimensions.
        guard t.size / type.size == count || (type == .utf8 && what == "text") else {
            throw ReadFault("\(what) holds \(t.size / type.size) values but the dimensions need \(count)")
        }
        return MatV5Data(bytes: try data(t, end: end), type: type, swapped: swapped)
    }

    private mutating func numeric(_ h: Header, _ c: MatClass, count: Int, end: Int) throws -> MatV5Array {
        guard count <= Self.maxElements else { throw ReadFault("has \(count) elements, more than \(Self.maxElements)") }
        let real = try part("data", count: count, end: end) { $0.isNumber }
        let imaginary = h.complex ? try part("imaginary part", count: count, end: end) { $0.isNumber } : nil
        return MatV5Array(c, dims: h.dims, complex: h.complex, real: real, imaginary: imaginary)
    }

    private mutating func characters(_ h: Header, count: Int, end: Int) throws -> MatV5Array {
        guard count <= Self.maxElements else { throw ReadFault("has \(count) characters, more than \(Self.maxElements)") }
        let text = try part("text", count: count, end: end) { !$0.isFloat && $0 != .matrix && $0 != .compressed }
        return MatV5Array(.char, dims: h.dims, complex: h.complex, real: text)
    }

    /// The next element, which must be an array, as element `what` of its parent.
    private mutating func child(_ within: String, end: Int, depth: Int) throws -> MatV5Array {
        do {
            let t = try tag(end: end)
            guard t.type == .matrix, t.small == nil else { throw ReadFault("is stored as \(t.typeName), expected an array (miMATRIX)") }
            return try matrix(size: t.size, depth: depth + 1)
        } catch var fault as ReadFault {
            fault.within = within + fault.within
            throw fault
        }
    }

    private mutating func cells(_ h: Header, count: Int, end: Int, depth: Int) throws -> MatV5Array {
        // Each cell takes at least an 8-byte tag.
        guard count <= Self.maxArrays, count <= (end - position) / 8 else {
            throw ReadFault("cell array of \(h.dims) elements does not fit its \(end - position) bytes")
        }
        var children: [MatV5Array] = []
        for i in 0..<count { children.append(try child("{\(i + 1)}", end: end, depth: depth)) }
        return MatV5Array(.cell, dims: h.dims, complex: h.complex, children: children)
    }

    private mutating func structure(_ h: Header, count: Int, end: Int, depth: Int) throws -> MatV5Array {
        guard count <= Self.maxArrays else { throw ReadFault("struct array of \(h.dims) elements is implausibly large") }
        let lengths = try integers("field-name length", .int32, end: end)
        guard lengths.count == 1, let length = lengths.first, (0...Self.maxFieldNameLength).contains(length) else {
            throw ReadFault("field-name length \(lengths) is not one value in 0...\(Self.maxFieldNameLength)")
        }
        let t = try tag(end: end)
        guard t.type == .int8 || t.type == .uint8 else { throw ReadFault("field names stored as \(t.typeName), expected miINT8") }
        if length == 0 && t.size > 0 { throw ReadFault("field names of \(t.size) bytes with a field-name length of 0") }
        guard length == 0 || t.size % length == 0 else { throw ReadFault("field names of \(t.size) bytes, not a multiple of their length \(length)") }
        let fieldCount = length == 0 ? 0 : t.size / length
        let raw = try data(t, end: end)
        let (total, overflow) = count.multipliedReportingOverflow(by: fieldCount)
        // Every field value takes at least an 8-byte tag.
        guard !overflow, total <= Self.maxArrays, total <= (end - position) / 8 else {
            throw ReadFault("struct array of \(h.dims) elements with \(fieldCount) fields does not fit its \(end - position) bytes")
        }
        let names = (0..<fieldCount).map { f -> String in
            let chunk = raw[(f * length)..<((f + 1) * length)]
            return String(decoding: chunk.prefix { $0 != 0 }, as: UTF8.self)
        }
        var children: [MatV5Array] = []
        for i in 0..<count {
            for name in names {
                children.append(try child(MatNode.fieldSuffix(name, index: i, of: count), end: end, depth: depth))
            }
        }
        return MatV5Array(.structure, dims: h.dims, complex: h.complex, children: children, fieldNames: names)
    }
}
