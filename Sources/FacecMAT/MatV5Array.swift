import FacecCore
/// Level-5 data types (miINT8 …) as element tags name them.
enum MiType: UInt32 {
    case int8 = 1, uint8 = 2, int16 = 3, uint16 = 4, int32 = 5, uint32 = 6, single = 7, double = 9
    case int64 = 12, uint64 = 13, matrix = 14, compressed = 15, utf8 = 16, utf16 = 17, utf32 = 18

    /// Bytes per value (0 for the container types).
    package var size: Int {
        switch self {
        case .int8, .uint8, .utf8: return 1
        case .int16, .uint16, .utf16: return 2
        case .int32, .uint32, .single, .utf32: return 4
        case .double, .int64, .uint64: return 8
        case .matrix, .compressed: return 0
        }
    }

    package var name: String {
        switch self {
        case .int8: return "miINT8"
        case .uint8: return "miUINT8"
        case .int16: return "miINT16"
        case .uint16: return "miUINT16"
        case .int32: return "miINT32"
        case .uint32: return "miUINT32"
        case .single: return "miSINGLE"
        case .double: return "miDOUBLE"
        case .int64: return "miINT64"
        case .uint64: return "miUINT64"
        case .matrix: return "miMATRIX"
        case .compressed: return "miCOMPRESSED"
        case .utf8: return "miUTF8"
        case .utf16: return "miUTF16"
        case .utf32: return "miUTF32"
        }
    }

    var isNumber: Bool { size > 0 && self != .utf8 && self != .utf16 && self != .utf32 }
    package var isFloat: Bool { self == .single || self == .double }
}

/// The data subelement of an array (real or imaginary part): raw bytes in
/// the file's byte order, converted only when asked for.
struct MatV5Data {
    let bytes: [UInt8]
    package let type: MiType
    /// The file's byte order differs from the machine's.
    let swapped: Bool

    package var count: Int { bytes.count / type.size }

    /// The first `n` stored values as Double (`n <= count`, checked by callers).
    package func doubles(_ n: Int) -> [Double] {
        func load<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
            bytes.withUnsafeBytes { raw in
                (0..<n).map { i in
                    let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
                    return convert(swapped ? v.byteSwapped : v)
                }
            }
        }
        switch type {
        case .int8: return load(Int8.self) { Double($0) }
        case .uint8, .utf8: return load(UInt8.self) { Double($0) }
        case .int16: return load(Int16.self) { Double($0) }
        case .uint16, .utf16: return load(UInt16.self) { Double($0) }
        case .int32: return load(Int32.self) { Double($0) }
        case .uint32, .utf32: return load(UInt32.self) { Double($0) }
        case .int64: return load(Int64.self) { Double($0) }
        case .uint64: return load(UInt64.self) { Double($0) }
        case .single: return load(UInt32.self) { Double(Float(bitPattern: $0)) }
        case .double: return load(UInt64.self) { Double(bitPattern: $0) }
        case .matrix, .compressed: return []
        }
    }

    /// The first `n` values as unsigned codes (text), `n <= count`.
    func codes(_ n: Int) -> [UInt32] {
        func load<T: FixedWidthInteger>(_: T.Type) -> [UInt32] {
            bytes.withUnsafeBytes { raw in
                (0..<n).map { i in
                    let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
                    return UInt32(truncatingIfNeeded: swapped ? v.byteSwapped : v)
                }
            }
        }
        switch type.size {
        case 1: return load(UInt8.self)
        case 2: return load(UInt16.self)
        case 4: return load(UInt32.self)
        default: return []
        }
    }
}

/// One MAT v5 array (a variable, or a cell element / struct field of one),
/// parsed whole by `MatV5Parser`. A class, not a struct, so `releaseData`
/// frees the weights once the importer has converted them.
final class MatV5Array: MatStorage {
    let matClass: MatClass
    package let dims: [Int]
    let isComplex: Bool
    private var real: MatV5Data?
    private var imaginary: MatV5Data?
    /// Cell elements, or struct elements × fields (element-major: element
    /// i's field f is at i × fieldNames.count + f).
    package let children: [MatV5Array]
    let fieldNames: [String]
    private let fieldIndex: [String: Int]
    private var released = false

    init(_ matClass: MatClass, dims: [Int], complex: Bool = false, real: MatV5Data? = nil, imaginary: MatV5Data? = nil,
         children: [MatV5Array] = [], fieldNames: [String] = []) {
        self.matClass = matClass
        self.dims = dims
        isComplex = complex
        self.real = real
        self.imaginary = imaginary
        self.children = children
        self.fieldNames = fieldNames
        // The first of duplicate names wins, as in MATLAB's own lookup order.
        fieldIndex = Dictionary(fieldNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// An miMATRIX element of 0 bytes (MATLAB writes `[]` struct fields so).
    /// Shared: a million of them cost a million references, not objects.
    /// Never mutated (`releaseData` leaves non-numeric classes alone), so
    /// sharing it between threads is safe although the class is not Sendable.
    nonisolated(unsafe) static let emptyArray = MatV5Array(.empty, dims: [0, 0])

    /// The element count (the parser has checked the product fits).
    private var count: Int { dims.reduce(1, *) }

    package func field(_ name: String, index: Int) throws -> MatStorage? {
        guard matClass == .structure else { throw ReadFault("is a \(matClass.rawValue), not a struct") }
        guard let f = fieldIndex[name] else { return nil }
        // Division, not multiplication: `index` comes from the caller.
        guard index >= 0, index < children.count / fieldNames.count else { throw ReadFault("has no element \(index + 1)") }
        return children[index * fieldNames.count + f]
    }

    package func cell(_ index: Int) throws -> MatStorage {
        guard matClass == .cell else { throw ReadFault("is a \(matClass.rawValue), not a cell array") }
        guard index >= 0, index < children.count else { throw ReadFault("has no cell \(index + 1)") }
        return children[index]
    }

    /// The stored data of a numeric or char array, checked to hold `n` values.
    private func data(_ n: Int) throws -> MatV5Data {
        guard !released else { throw ReadFault("data already released") }
        guard let real else { throw ReadFault("\(matClass.rawValue) arrays are not read (no data)") }
        guard n >= 0, n <= real.count else { throw ReadFault("has \(real.count) values, fewer than the \(n) asked for") }
        return real
    }

    /// Text as MATLAB stores it: UTF-8 (the dimensions count characters, the
    /// bytes may be more), UTF-16 / UINT16 code units, UTF-32, or 8-bit.
    package func text() throws -> String {
        guard matClass == .char else { throw ReadFault("is a \(matClass.rawValue), expected text") }
        let n = count
        guard let real else { throw ReadFault("text without data") }
        switch real.type {
        case .utf8:
            guard real.bytes.count <= 4 * MatNode.maxCharacters else { throw ReadFault("text too long") }
            var bytes = real.bytes[...]
            while bytes.last == 0 { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        case .utf16, .uint16, .int16:
            let units = try data(n).codes(n).map { UInt16(truncatingIfNeeded: $0) }
            return String(decoding: units, as: UTF16.self)
        case .uint8, .int8:
            return String(decoding: try data(n).bytes.prefix(n), as: UTF8.self)
        case .utf32, .uint32, .int32:
            return String(String.UnicodeScalarView(try data(n).codes(n).map { Unicode.Scalar($0) ?? "\u{FFFD}" }))
        default:
            throw ReadFault("text stored as \(real.type.name)")
        }
    }

    /// Values converted to the array's class first (MATLAB stores e.g. a
    /// double array of small integers as miUINT8; a value that does not fit
    /// its class saturates, as MATLAB's casts do), then to Double.
    package func doubles(count n: Int) throws -> [Double] {
        guard matClass.isNumeric || matClass == .logical else { throw ReadFault("is a \(matClass.rawValue), expected numbers") }
        let stored = try data(n)
        let values = stored.doubles(n)
        return Self.storedAsClass(stored.type, matClass) ? values : values.map { Self.convert($0, to: matClass) }
    }

    /// Values of the imaginary part (tests compare them with libmatio's).
    func imaginaryDoubles(count n: Int) throws -> [Double] {
        guard let imaginary, n <= imaginary.count else { throw ReadFault("has no imaginary part of \(n) values") }
        let values = imaginary.doubles(n)
        return Self.storedAsClass(imaginary.type, matClass) ? values : values.map { Self.convert($0, to: matClass) }
    }

    /// Single data in the machine's byte order is passed without a copy;
    /// everything else goes through `doubles`, like the v7.3 reader.
    package func withFloats<R>(count n: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        guard matClass.isNumeric else { throw ReadFault("is a \(matClass.rawValue), expected numbers") }
        if n == 0 { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let stored = try data(n)
        if matClass == .single && stored.type == .single && !stored.swapped {
            // [UInt8] storage is malloc'd, so aligned for Float.
            return try stored.bytes.withUnsafeBytes { try body(UnsafeBufferPointer(start: $0.baseAddress!.assumingMemoryBound(to: Float.self), count: n)) }
        }
        let converted = try doubles(count: n).map { Float($0) }
        return try converted.withUnsafeBufferPointer(body)
    }

    package func releaseData() {
        guard matClass.isNumeric else { return }
        real = nil
        imaginary = nil
        released = true
    }

    /// Whether stored values are already exactly the class's values.
    private static func storedAsClass(_ type: MiType, _ c: MatClass) -> Bool {
        switch (type, c) {
        case (.double, .double), (.single, .single), (.int8, .int8), (.uint8, .uint8), (.uint8, .logical),
             (.int16, .int16), (.uint16, .uint16), (.int32, .int32), (.uint32, .uint32), (.int64, .int64), (.uint64, .uint64):
            return true
        case (_, .double):
            return true   // convert(_:to: .double) is the identity
        default:
            return false
        }
    }

    /// A stored value as a value of class `c` (saturating, NaN to 0 for
    /// integers, as MATLAB converts), as Double.
    static func convert(_ x: Double, to c: MatClass) -> Double {
        func integer(_ low: Double, _ high: Double) -> Double {
            x.isNaN ? 0 : min(max(x.rounded(.toNearestOrAwayFromZero), low), high)
        }
        switch c {
        case .double: return x
        case .single: return Double(Float(x))
        case .int8: return integer(-128, 127)
        case .uint8, .logical: return integer(0, 255)
        case .int16: return integer(-32768, 32767)
        case .uint16: return integer(0, 65535)
        case .int32: return integer(-2_147_483_648, 2_147_483_647)
        case .uint32: return integer(0, 4_294_967_295)
        // Int64.max and UInt64.max are not Doubles; the nearest (2^63,
        // 2^64) are what such stored values convert to anyway.
        case .int64: return integer(-0x1p63, 0x1p63)
        case .uint64: return integer(0, 0x1p64)
        default: return x
        }
    }
}
