import FacecHDF5
import FacecCore

/// One MATLAB array of a MAT v7.3 file: an HDF5 dataset or group with
/// MATLAB's attributes, opened and classified when reached, its data read
/// only when asked for.
///
/// MATLAB's conventions (as MATLAB, hdf5storage and libmatio write them):
/// - `MATLAB_class` names the class (a fixed- or variable-length string;
///   MATLAB pads with NUL, hdf5storage pads differently).
/// - Numeric and logical arrays are datasets with dimensions reversed
///   (HDF5 is row-major): a MATLAB 3×3×64×128 filter is HDF5 [128][64][3][3],
///   so the bytes are in MATLAB's column-major order, as in v5 files.
/// - `char` is uint16 UTF-16 code units (`MATLAB_int_decode` 2; 1 is 8-bit,
///   4 UTF-32). Logical is uint8 (`MATLAB_int_decode` 1).
/// - Empty arrays hold their dimensions as data, flagged `MATLAB_empty`.
/// - A cell array is a dataset of object references into `#refs#`.
/// - A struct is a group whose members are its fields (`MATLAB_fields`
///   lists them in order). In a struct array each field is a reference
///   dataset shaped like the struct array, without `MATLAB_class`.
///
/// References are dereferenced directly (no name lookups). Each array knows
/// the object addresses on its path from the variable (from the links and
/// references that led to it), so a reference or hard link back to an
/// enclosing array is a reported cycle, not a loop.
final class MatV73Array: MatStorage {
    private let object: H5Object
    private let file: MatV73File
    private var address: UInt64 { object.address }
    private let ancestors: [UInt64]
    let matClass: MatClass
    package let dims: [Int]
    let isComplex: Bool
    private let isDataset: Bool
    /// Struct arrays keep their fields as reference datasets.
    private let isStructArray: Bool
    private let fieldNames: [String]
    /// char: 1 (8-bit), 2 (UTF-16) or 4 (UTF-32) bytes per code.
    private let charWidth: Int
    /// Bytes per element as stored.
    private let elementBytes: Int
    private let isFlaggedEmpty: Bool

    /// Arrays nested deeper than this are refused (MatConvNet models nest 5).
    static let maxDepth = 64
    /// Largest numeric array read (VGG-Face fc6 has 102.8 M values).
    static let maxElements = 1 << 28

    private init(object: H5Object, file: MatV73File, ancestors: [UInt64], matClass: MatClass, dims: [Int],
                 isComplex: Bool = false, isDataset: Bool, isStructArray: Bool = false, fieldNames: [String] = [],
                 charWidth: Int = 2, elementBytes: Int = 0, isFlaggedEmpty: Bool = false) {
        self.object = object; self.file = file; self.ancestors = ancestors
        self.matClass = matClass; self.dims = dims; self.isComplex = isComplex; self.isDataset = isDataset
        self.isStructArray = isStructArray; self.fieldNames = fieldNames; self.charWidth = charWidth
        self.elementBytes = elementBytes
        self.isFlaggedEmpty = isFlaggedEmpty
    }

    // MARK: opening

    /// Member `name` of `group` (a variable of the root, or a field); nil
    /// when there is none.
    static func open(member name: String, of group: H5Object, in file: MatV73File, ancestors: [UInt64]) throws -> MatV73Array? {
        guard !name.isEmpty, !name.contains("/"), name != "." else { throw ReadFault("has an invalid member name '\(name)'") }
        return try group.member(name).map { try classify($0, file: file, ancestors: ancestors) }
    }

    private static func classify(_ obj: H5Object, file: MatV73File, ancestors: [UInt64]) throws -> MatV73Array {
        guard !ancestors.contains(obj.address) else { throw ReadFault("refers back to an array that contains it (a reference cycle)") }
        guard ancestors.count < maxDepth else { throw ReadFault("arrays nested more than \(maxDepth) deep") }
        let attributes = try obj.attributes()
        guard attributes.count <= 256 else { throw ReadFault("has more than 256 attributes") }
        let className = try attributeString(attributes, "MATLAB_class", file.file)
        if obj.isGroup { return try group(obj, className, attributes, file, ancestors) }
        if obj.isDataset { return try dataset(obj, className, attributes, file, ancestors) }
        throw ReadFault("is an HDF5 \(obj.header.first(H5Message.datatype) != nil ? "named datatype" : "object"), not a MATLAB array")
    }

    private static func attributeString(_ attributes: [H5Attribute], _ name: String, _ file: H5File) throws -> String? {
        guard let attribute = attributes.first(where: { $0.name == name }) else { return nil }
        do {
            let values = try attribute.strings(in: file)
            guard values.count == 1, values[0].utf8.count <= 64 else { throw ReadFault("is not one short string") }
            return values[0]
        } catch let fault as ReadFault {
            throw ReadFault("attribute \(name) \(fault.reason)")
        }
    }

    private static func attributeInteger(_ attributes: [H5Attribute], _ name: String, _ file: H5File) throws -> Int64? {
        guard let attribute = attributes.first(where: { $0.name == name }) else { return nil }
        do { return try attribute.integer(in: file) } catch let fault as ReadFault {
            throw ReadFault("attribute \(name) \(fault.reason)")
        }
    }

    private static func group(_ obj: H5Object, _ className: String?, _ attributes: [H5Attribute], _ file: MatV73File,
                              _ ancestors: [UInt64]) throws -> MatV73Array {
        if attributes.contains(where: { $0.name == "MATLAB_sparse" }) {
            return MatV73Array(object: obj, file: file, ancestors: ancestors, matClass: .sparse, dims: [1, 1], isDataset: false)
        }
        guard className == nil || className == "struct" else {
            throw ReadFault("is an HDF5 group (a struct) but its MATLAB_class is '\(className!)'")
        }
        let names: [String]
        do {
            if let fields = attributes.first(where: { $0.name == "MATLAB_fields" }) {
                names = try fields.strings(in: file.file)
            } else {
                names = try obj.links().map(\.name)
            }
        } catch let fault as ReadFault {
            throw ReadFault("field list \(fault.reason)")
        }
        guard names.count <= 4096 else { throw ReadFault("struct has \(names.count) fields") }
        // A struct array: the first field is a reference dataset without a
        // class, shaped like the array (a 1×1 struct's cell field has one).
        var dims = [1, 1], isArray = false
        if let first = names.first, let f = try? obj.member(first), f.isDataset, let a = try? f.attributes(),
           !a.contains(where: { $0.name == "MATLAB_class" }), let d = try? H5Dataset(f), d.type.isObjectReference {
            dims = matlabDims(d)
            isArray = true
        }
        return MatV73Array(object: obj, file: file, ancestors: ancestors, matClass: .structure, dims: dims,
                           isDataset: false, isStructArray: isArray, fieldNames: names)
    }

    private static let numericClasses: [String: MatClass] = [
        "double": .double, "single": .single, "int8": .int8, "uint8": .uint8, "int16": .int16, "uint16": .uint16,
        "int32": .int32, "uint32": .uint32, "int64": .int64, "uint64": .uint64,
    ]

    private static func dataset(_ obj: H5Object, _ className: String?, _ attributes: [H5Attribute], _ file: MatV73File,
                                _ ancestors: [UInt64]) throws -> MatV73Array {
        let d = try H5Dataset(obj)
        let type = d.type, typeSize = type.size
        func make(_ c: MatClass, _ dims: [Int], complex: Bool = false, width: Int = 2, empty: Bool = false) -> MatV73Array {
            MatV73Array(object: obj, file: file, ancestors: ancestors, matClass: c, dims: dims, isComplex: complex,
                        isDataset: true, charWidth: width, elementBytes: typeSize, isFlaggedEmpty: empty)
        }

        if let flag = try attributeInteger(attributes, "MATLAB_empty", file.file), flag != 0 {
            // The data are the dimensions (MATLAB order) of an empty array.
            guard type.isInteger else { throw ReadFault("is marked empty (MATLAB_empty) but does not hold its dimensions as integers") }
            guard d.count <= 32 else { throw ReadFault("is marked empty (MATLAB_empty) with \(d.count) dimensions") }
            let raw = try d.integers()
            guard raw.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }), raw.contains(0) || raw.isEmpty else {
                throw ReadFault("is marked empty (MATLAB_empty) but its dimensions \(raw) hold elements")
            }
            let dims = raw.isEmpty ? [0, 0] : raw.map { Int($0) }
            switch className {
            case "canonical empty": return make(.empty, dims, empty: true)
            case let name?:
                guard let c = numericClasses[name] ?? ["logical": .logical, "char": .char, "cell": .cell, "struct": .structure][name] else {
                    throw ReadFault("has an unsupported MATLAB_class '\(name)'")
                }
                return make(c, dims, empty: true)
            case nil: return make(.double, dims, empty: true)
            }
        }

        let dims = matlabDims(d)
        let isInteger = type.isInteger, isFloat = type.isFloat
        var isComplexType = false
        if case .compound(_, let members) = type {
            isComplexType = members.count == 2 && members.allSatisfy { $0.isInteger || $0.isFloat }
        }
        let isReference = type.isObjectReference
        let stored = isInteger ? "integers" : isFloat ? "floating-point numbers" : isReference ? "object references"
            : isComplexType ? "complex numbers" : type.typeClass == 3 ? "HDF5 strings" : "data of HDF5 type class \(type.typeClass)"
        func wrong(_ name: String) -> ReadFault { ReadFault("has MATLAB_class '\(name)' but holds \(stored)") }

        guard let name = className else {
            // Not written by a MATLAB writer: classify numeric data by type.
            if isFloat { return make(typeSize == 4 ? .single : .double, dims) }
            if case .integer(let size, let signed, _) = type, let c = numericClasses["\(signed ? "" : "u")int\(size * 8)"] { return make(c, dims) }
            throw ReadFault("has no MATLAB_class attribute and holds \(stored)")
        }
        if let c = numericClasses[name] {
            guard isInteger || isFloat || isComplexType else { throw wrong(name) }
            return make(c, dims, complex: isComplexType)
        }
        switch name {
        case "logical":
            guard isInteger else { throw wrong(name) }
            return make(.logical, dims)
        case "char":
            guard isInteger, [1, 2, 4].contains(typeSize) else { throw wrong(name) }
            let decode = try attributeInteger(attributes, "MATLAB_int_decode", file.file)
            guard decode == nil || [1, 2, 4].contains(decode!) else { throw ReadFault("has an unknown MATLAB_int_decode \(decode!)") }
            return make(.char, dims, width: Int(decode ?? Int64(typeSize)))
        case "cell":
            guard isReference else { throw wrong(name) }
            return make(.cell, dims)
        case "struct":
            throw ReadFault("has MATLAB_class 'struct' but is a dataset, not a group")
        case "canonical empty":
            throw ReadFault("has MATLAB_class 'canonical empty' but is not marked MATLAB_empty")
        default:
            throw ReadFault("has MATLAB_class '\(name)', which facec does not read (numeric, logical, char, cell and struct arrays only)")
        }
    }

    /// MATLAB dimensions of a dataset: HDF5's reversed; a scalar is 1×1, a
    /// vector n×1 (as libmatio reads them).
    private static func matlabDims(_ d: H5Dataset) -> [Int] {
        switch d.dims.count {
        case 0: return [1, 1]
        case 1: return [d.dims[0], 1]
        default: return d.dims.reversed()
        }
    }

    // MARK: structure

    private var count: Int { dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 } }

    package func field(_ name: String, index: Int) throws -> MatStorage? {
        guard fieldNames.contains(name) else { return nil }
        let within = MatNode.fieldSuffix(name, index: index, of: count)
        let path = ancestors + [address]
        do {
            guard isStructArray else {
                guard let value = try Self.open(member: name, of: object, in: file, ancestors: path) else {
                    throw ReadFault("is listed in MATLAB_fields but missing")
                }
                return value
            }
            guard let refs = try object.member(name) else { throw ReadFault("is listed in MATLAB_fields but missing") }
            let values = try Self.references(refs, expecting: count)
            return try dereference(values[index], ancestors: path)
        } catch let fault as ReadFault where fault.within.isEmpty {
            throw ReadFault(fault.reason, within: within)
        }
    }

    /// The references of a cell array, read once.
    private var cellReferences: [UInt64]?

    package func cell(_ index: Int) throws -> MatStorage {
        guard !isFlaggedEmpty else { throw ReadFault("is empty") }
        if cellReferences == nil { cellReferences = try Self.references(object, expecting: count) }
        do { return try dereference(cellReferences![index], ancestors: ancestors + [address]) } catch let fault as ReadFault {
            throw ReadFault(fault.reason, within: "{\(index + 1)}")
        }
    }

    /// All object references of a reference dataset of `n` elements.
    private static func references(_ obj: H5Object, expecting n: Int) throws -> [UInt64] {
        guard obj.isDataset else { throw ReadFault("is not a dataset of references") }
        let d = try H5Dataset(obj)
        guard d.type.isObjectReference else { throw ReadFault("is not a dataset of object references") }
        guard d.count == n else { throw ReadFault("holds \(d.count) references where \(n) are expected") }
        guard n <= MatNode.maxCells else { throw ReadFault("holds \(n) references") }
        return try d.references()
    }

    /// The array an object reference points at (the address of its header).
    private func dereference(_ ref: UInt64, ancestors path: [UInt64]) throws -> MatV73Array {
        guard ref != 0, ref != UInt64.max else { throw ReadFault("is a null reference") }
        let hex = "0x" + String(ref, radix: 16)
        guard (try? file.file.position(of: ref)) != nil else { throw ReadFault("refers to address \(hex), beyond the end of the file") }
        let target: H5Object
        do { target = try H5Object(file: file.file, address: ref) } catch let fault as ReadFault {
            throw ReadFault("refers to a missing object (address \(hex)): \(fault.reason)")
        }
        return try Self.classify(target, file: file, ancestors: path)
    }

    // MARK: data

    /// The dataset, checked before a buffer for `n` elements is allocated.
    private func readable(_ n: Int) throws -> H5Dataset {
        guard isDataset, !isFlaggedEmpty else { throw ReadFault("holds no data") }
        guard n <= Self.maxElements else { throw ReadFault("has \(n) elements, more than facec reads (\(Self.maxElements))") }
        return try H5Dataset(object)
    }

    /// Whether a read of `d` is large enough for all cores (and counts it).
    private func parallel(_ d: H5Dataset) -> Int {
        guard d.byteCount >= file.parallelReadMinimum, case .chunked = d.storage else { return Int.max }
        file.parallelReads += 1
        return 0
    }

    package func text() throws -> String {
        let n = count
        if n == 0 { return "" }
        let d = try readable(n)
        let codes = try d.integers()
        switch charWidth {
        case 1:
            guard codes.allSatisfy({ (0...0xFF).contains($0) }) else { throw ReadFault("8-bit text holds larger codes") }
            return String(decoding: codes.map { UInt8($0) }, as: UTF8.self)
        case 2:
            guard codes.allSatisfy({ (0...0xFFFF).contains($0) }) else { throw ReadFault("UTF-16 text holds codes above 0xFFFF") }
            return String(decoding: codes.map { UInt16($0) }, as: UTF16.self)
        default:
            return String(String.UnicodeScalarView(codes.map { UInt32(exactly: $0).flatMap(Unicode.Scalar.init) ?? "\u{FFFD}" }))
        }
    }

    package func doubles(count n: Int) throws -> [Double] {
        if n == 0 { return [] }
        let d = try readable(n)
        guard d.count == n else { throw ReadFault("holds \(d.count) values where \(n) are expected") }
        return try d.doubles()
    }

    /// Single data read as float32 directly; other classes through Double,
    /// exactly as the v5/v7 path converts them.
    package func withFloats<R>(count n: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let values: [Float]
        if n == 0 {
            values = []
        } else if matClass == .single {
            let d = try readable(n)
            guard d.count == n else { throw ReadFault("holds \(d.count) values where \(n) are expected") }
            if case .float(4, false) = d.type {
                values = try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
                    try d.read(into: buffer.baseAddress!, parallelMinimum: parallel(d))
                    initialized = n
                }
            } else {
                values = try d.floats()
            }
        } else {
            values = try doubles(count: n).map { Float($0) }
        }
        return try values.withUnsafeBufferPointer(body)
    }

    /// float32 data is placed straight into HWIO order as it is read
    /// (MATLAB's chunks are 1×1 in H and W, so each becomes whole rows of
    /// Cout); anything else is read column-major and transposed.
    package func streamHWIO(_ d: [Int], into sink: FloatSink) throws {
        let n = d.reduce(1, *)
        guard matClass == .single, n > 0 else { return try streamHWIOByTransposing(d, into: sink) }
        let data = try readable(n)
        guard case .float(4, false) = data.type, data.dims.count <= 4, data.count == n else {
            return try streamHWIOByTransposing(d, into: sink)
        }
        // HDF5 axis j is MATLAB axis r-1-j; in row-major HWIO that axis
        // steps by the product of the MATLAB dimensions after it.
        var rowMajor = [1, 1, 1, 1]
        for a in stride(from: 2, through: 0, by: -1) { rowMajor[a] = rowMajor[a + 1] * d[a + 1] }
        let r = data.dims.count
        let strides = (0..<r).map { rowMajor[r - 1 - $0] }
        let values = try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            try data.read(into: buffer.baseAddress!, strides: strides, parallelMinimum: parallel(data))
            initialized = n
        }
        try values.withUnsafeBufferPointer { try sink($0) }
    }

    /// Data is read on demand and not kept.
    package func releaseData() {}
}
