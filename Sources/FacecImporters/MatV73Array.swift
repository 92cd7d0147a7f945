import CHDF5
import FacecFormat

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
    private let id: hid_t
    private let file: MatV73File
    private let address: UInt64
    private let ancestors: [UInt64]
    let matClass: MatClass
    let dims: [Int]
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

    deinit { H5Oclose(id) }

    private init(id: hid_t, file: MatV73File, address: UInt64, ancestors: [UInt64], matClass: MatClass, dims: [Int],
                 isComplex: Bool = false, isDataset: Bool, isStructArray: Bool = false, fieldNames: [String] = [],
                 charWidth: Int = 2, elementBytes: Int = 0, isFlaggedEmpty: Bool = false) {
        self.id = id; self.file = file; self.address = address; self.ancestors = ancestors
        self.matClass = matClass; self.dims = dims; self.isComplex = isComplex; self.isDataset = isDataset
        self.isStructArray = isStructArray; self.fieldNames = fieldNames; self.charWidth = charWidth
        self.elementBytes = elementBytes
        self.isFlaggedEmpty = isFlaggedEmpty
    }

    // MARK: opening

    /// Opens member `name` of `group` (a variable of the root, or a field);
    /// nil when there is none.
    static func open(member name: String, of group: hid_t, in file: MatV73File, ancestors: [UInt64]) throws -> MatV73Array? {
        try HDF5Group.openMember(group, name).map { try classify($0.id, at: $0.address, file: file, ancestors: ancestors) }
    }

    /// Classifies an open object (whose header is at `address`); closes it
    /// if it is refused.
    private static func classify(_ obj: hid_t, at address: UInt64, file: MatV73File, ancestors: [UInt64]) throws -> MatV73Array {
        var owned = true
        defer { if owned { H5Oclose(obj) } }
        guard !ancestors.contains(address) else { throw ReadFault("refers back to an array that contains it (a reference cycle)") }
        guard ancestors.count < maxDepth else { throw ReadFault("arrays nested more than \(maxDepth) deep") }
        let attributes = try HDF5Attribute.names(obj)
        let className = attributes.contains("MATLAB_class") ? try attributeString(obj, "MATLAB_class") : nil
        let array: MatV73Array
        switch H5Iget_type(obj) {
        case H5I_GROUP: array = try group(obj, className, attributes, file, address, ancestors)
        case H5I_DATASET: array = try dataset(obj, className, attributes, file, address, ancestors)
        default: throw ReadFault("is an HDF5 \(H5Iget_type(obj) == H5I_DATATYPE ? "named datatype" : "object"), not a MATLAB array")
        }
        owned = false
        return array
    }

    private static func attributeString(_ obj: hid_t, _ name: String) throws -> String? {
        do {
            guard let values = try HDF5Attribute.strings(obj, name) else { return nil }
            guard values.count == 1, values[0].utf8.count <= 64 else { throw ReadFault("is not one short string") }
            return values[0]
        } catch let fault as ReadFault {
            throw ReadFault("attribute \(name) \(fault.reason)")
        }
    }

    private static func attributeInteger(_ obj: hid_t, _ name: String) throws -> Int64? {
        do { return try HDF5Attribute.integer(obj, name) } catch let fault as ReadFault {
            throw ReadFault("attribute \(name) \(fault.reason)")
        }
    }

    private static func group(_ obj: hid_t, _ className: String?, _ attributes: Set<String>, _ file: MatV73File,
                              _ address: UInt64, _ ancestors: [UInt64]) throws -> MatV73Array {
        if attributes.contains("MATLAB_sparse") {
            return MatV73Array(id: obj, file: file, address: address, ancestors: ancestors, matClass: .sparse, dims: [1, 1], isDataset: false)
        }
        guard className == nil || className == "struct" else {
            throw ReadFault("is an HDF5 group (a struct) but its MATLAB_class is '\(className!)'")
        }
        let names: [String]
        do { names = try HDF5Attribute.strings(obj, "MATLAB_fields") ?? HDF5Group.linkNames(obj, limit: 4096) } catch let fault as ReadFault {
            throw ReadFault("field list \(fault.reason)")
        }
        guard names.count <= 4096 else { throw ReadFault("struct has \(names.count) fields") }
        // A struct array: the first field is a reference dataset without a
        // class, shaped like the array (a 1×1 struct's cell field has one).
        var dims = [1, 1], isArray = false
        if let first = names.first, let (f, _) = try? HDF5Group.openMember(obj, first) {
            defer { H5Oclose(f) }
            if H5Iget_type(f) == H5I_DATASET, H5Aexists(f, "MATLAB_class") <= 0 {
                let type = H5Dget_type(f)
                defer { H5Tclose(type) }
                if H5Tget_class(type) == H5T_REFERENCE {
                    dims = try datasetDims(f)
                    isArray = true
                }
            }
        }
        return MatV73Array(id: obj, file: file, address: address, ancestors: ancestors, matClass: .structure, dims: dims,
                           isDataset: false, isStructArray: isArray, fieldNames: names)
    }

    private static let numericClasses: [String: MatClass] = [
        "double": .double, "single": .single, "int8": .int8, "uint8": .uint8, "int16": .int16, "uint16": .uint16,
        "int32": .int32, "uint32": .uint32, "int64": .int64, "uint64": .uint64,
    ]

    private static func dataset(_ obj: hid_t, _ className: String?, _ attributes: Set<String>, _ file: MatV73File,
                                _ address: UInt64, _ ancestors: [UInt64]) throws -> MatV73Array {
        let type = H5Dget_type(obj)
        guard type >= 0 else { throw ReadFault("has an unreadable datatype\(HDF5.lastError())") }
        defer { H5Tclose(type) }
        let typeClass = H5Tget_class(type), typeSize = H5Tget_size(type)
        func make(_ c: MatClass, _ dims: [Int], complex: Bool = false, width: Int = 2, empty: Bool = false) -> MatV73Array {
            MatV73Array(id: obj, file: file, address: address, ancestors: ancestors, matClass: c, dims: dims, isComplex: complex,
                        isDataset: true, charWidth: width, elementBytes: typeSize, isFlaggedEmpty: empty)
        }

        if attributes.contains("MATLAB_empty"), let flag = try attributeInteger(obj, "MATLAB_empty"), flag != 0 {
            // The data are the dimensions (MATLAB order) of an empty array.
            guard typeClass == H5T_INTEGER else { throw ReadFault("is marked empty (MATLAB_empty) but does not hold its dimensions as integers") }
            let stored = try datasetDims(obj)
            let rank = stored.reduce(1, *)
            guard rank <= 32 else { throw ReadFault("is marked empty (MATLAB_empty) with \(rank) dimensions") }
            var raw = [UInt64](repeating: 0, count: rank)
            if rank > 0 {
                guard H5Dread(obj, facec_H5T_NATIVE_UINT64(), facec_H5S_ALL(), facec_H5S_ALL(), facec_H5P_DEFAULT(), &raw) >= 0 else {
                    throw ReadFault("cannot read the dimensions of an empty array\(HDF5.lastError())")
                }
            }
            guard raw.allSatisfy({ $0 <= UInt64(Int32.max) }), raw.contains(0) || raw.isEmpty else {
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

        let dims = try datasetDims(obj)
        let isInteger = typeClass == H5T_INTEGER, isFloat = typeClass == H5T_FLOAT
        let isComplexType = typeClass == H5T_COMPOUND && isComplexCompound(type)
        let isReference = typeClass == H5T_REFERENCE && H5Tequal(type, facec_H5T_STD_REF_OBJ()) > 0
        let stored = isInteger ? "integers" : isFloat ? "floating-point numbers" : isReference ? "object references"
            : isComplexType ? "complex numbers" : typeClass == H5T_STRING ? "HDF5 strings" : "data of HDF5 type class \(typeClass.rawValue)"
        func wrong(_ name: String) -> ReadFault { ReadFault("has MATLAB_class '\(name)' but holds \(stored)") }

        guard let name = className else {
            // Not written by a MATLAB writer: classify numeric data by type.
            if isFloat { return make(typeSize == 4 ? .single : .double, dims) }
            if isInteger, let c = numericClasses["\(H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "")int\(typeSize * 8)"] { return make(c, dims) }
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
            let decode = attributes.contains("MATLAB_int_decode") ? try attributeInteger(obj, "MATLAB_int_decode") : nil
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
    private static func datasetDims(_ obj: hid_t) throws -> [Int] {
        let space = H5Dget_space(obj)
        guard space >= 0 else { throw ReadFault("has an unreadable dataspace\(HDF5.lastError())") }
        defer { H5Sclose(space) }
        let stored = try HDF5.extent(space)
        guard stored.allSatisfy({ $0 <= UInt64(Int.max) }) else { throw ReadFault("has a dimension of \(stored.max()!)") }
        switch stored.count {
        case 0: return [1, 1]
        case 1: return [Int(stored[0]), 1]
        default: return stored.reversed().map { Int($0) }
        }
    }

    /// MATLAB's complex numbers: a compound of two numbers (real, imag).
    private static func isComplexCompound(_ type: hid_t) -> Bool {
        guard H5Tget_nmembers(type) == 2 else { return false }
        return (0..<2).allSatisfy { [H5T_FLOAT, H5T_INTEGER].contains(H5Tget_member_class(type, UInt32($0))) }
    }

    // MARK: structure

    private var count: Int { dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 } }

    func field(_ name: String, index: Int) throws -> MatStorage? {
        guard fieldNames.contains(name) else { return nil }
        let within = MatNode.fieldSuffix(name, index: index, of: count)
        let path = ancestors + [address]
        do {
            guard isStructArray else {
                guard let value = try Self.open(member: name, of: id, in: file, ancestors: path) else {
                    throw ReadFault("is listed in MATLAB_fields but missing")
                }
                return value
            }
            guard let (refs, _) = try HDF5Group.openMember(id, name) else { throw ReadFault("is listed in MATLAB_fields but missing") }
            defer { H5Oclose(refs) }
            let values = try Self.references(refs, expecting: count)
            return try dereference(values[index], ancestors: path)
        } catch let fault as ReadFault where fault.within.isEmpty {
            throw ReadFault(fault.reason, within: within)
        }
    }

    /// The references of a cell array, read once.
    private var cellReferences: [UInt64]?

    func cell(_ index: Int) throws -> MatStorage {
        guard !isFlaggedEmpty else { throw ReadFault("is empty") }
        if cellReferences == nil { cellReferences = try Self.references(id, expecting: count) }
        do { return try dereference(cellReferences![index], ancestors: ancestors + [address]) } catch let fault as ReadFault {
            throw ReadFault(fault.reason, within: "{\(index + 1)}")
        }
    }

    /// All object references of a reference dataset of `n` elements.
    private static func references(_ obj: hid_t, expecting n: Int) throws -> [UInt64] {
        guard H5Iget_type(obj) == H5I_DATASET else { throw ReadFault("is not a dataset of references") }
        let type = H5Dget_type(obj)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_REFERENCE, H5Tequal(type, facec_H5T_STD_REF_OBJ()) > 0 else {
            throw ReadFault("is not a dataset of object references")
        }
        let dims = try datasetDims(obj)
        let stored = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard stored == n else { throw ReadFault("holds \(stored) references where \(n) are expected") }
        guard n <= MatNode.maxCells else { throw ReadFault("holds \(n) references") }
        try HDF5Storage.check(obj, dims: dims, elementBytes: H5Tget_size(type))
        var refs = [UInt64](repeating: 0, count: n)
        guard n == 0 || H5Dread(obj, facec_H5T_STD_REF_OBJ(), facec_H5S_ALL(), facec_H5S_ALL(), facec_H5P_DEFAULT(), &refs) >= 0 else {
            throw ReadFault("cannot read its references\(HDF5.lastError())")
        }
        return refs
    }

    /// The array an object reference points at, checked to be an object of
    /// this file before HDF5 follows it.
    private func dereference(_ ref: UInt64, ancestors path: [UInt64]) throws -> MatV73Array {
        let hex = "0x" + String(ref, radix: 16)
        guard ref != 0, ref != UInt64.max else { throw ReadFault("is a null reference") }
        guard ref < file.addressLimit else { throw ReadFault("refers to address \(hex), beyond the end of the file") }
        // An object reference is the address of the object's header.
        var target = ref
        let obj = H5Rdereference2(id, facec_H5P_DEFAULT(), H5R_OBJECT, &target)
        guard obj >= 0 else { throw ReadFault("refers to a missing object (address \(hex))\(HDF5.lastError())") }
        return try Self.classify(obj, at: ref, file: file, ancestors: path)
    }

    // MARK: data

    /// Called before a buffer for `n` elements is allocated.
    private func checkReadable(_ n: Int) throws {
        guard isDataset, !isFlaggedEmpty else { throw ReadFault("holds no data") }
        guard n <= Self.maxElements else { throw ReadFault("has \(n) elements, more than facec reads (\(Self.maxElements))") }
        try HDF5Storage.check(id, dims: dims, elementBytes: elementBytes)
    }

    /// Reads all `n` elements converted to `memType` into `buffer` (checked
    /// by `checkReadable` first).
    private func readAll(_ memType: hid_t, _ n: Int, into buffer: UnsafeMutableRawPointer) throws {
        if n * elementBytes >= file.parallelReadMinimum, storedAs(memType),
           let chunks = HDF5ParallelChunks(id, elementBytes: elementBytes, minimumBytes: file.parallelReadMinimum) {
            file.parallelReads += 1
            return try chunks.read(into: buffer, elements: n)
        }
        let dxpl = n * max(elementBytes, H5Tget_size(memType)) <= MatV73File.smallReadBytes ? file.smallReads : facec_H5P_DEFAULT()
        guard H5Dread(id, memType, facec_H5S_ALL(), facec_H5S_ALL(), dxpl, buffer) >= 0 else {
            throw ReadFault("cannot read its data (damaged file?)\(HDF5.lastError())")
        }
    }

    /// Whether the data is stored exactly as `memType` (no conversion).
    private func storedAs(_ memType: hid_t) -> Bool {
        let type = H5Dget_type(id)
        defer { H5Tclose(type) }
        return H5Tequal(type, memType) > 0
    }

    func text() throws -> String {
        let n = count
        if n == 0 { return "" }
        try checkReadable(n)
        var codes = [UInt32](repeating: 0, count: n)
        try codes.withUnsafeMutableBytes { try readAll(facec_H5T_NATIVE_UINT32(), n, into: $0.baseAddress!) }
        switch charWidth {
        case 1:
            guard codes.allSatisfy({ $0 <= 0xFF }) else { throw ReadFault("8-bit text holds larger codes") }
            return String(decoding: codes.map { UInt8($0) }, as: UTF8.self)
        case 2:
            guard codes.allSatisfy({ $0 <= 0xFFFF }) else { throw ReadFault("UTF-16 text holds codes above 0xFFFF") }
            return String(decoding: codes.map { UInt16($0) }, as: UTF16.self)
        default:
            return String(String.UnicodeScalarView(codes.map { Unicode.Scalar($0) ?? "\u{FFFD}" }))
        }
    }

    func doubles(count n: Int) throws -> [Double] {
        if n == 0 { return [] }
        try checkReadable(n)
        return try [Double](unsafeUninitializedCapacity: n) { buffer, initialized in
            try readAll(facec_H5T_NATIVE_DOUBLE(), n, into: buffer.baseAddress!)
            initialized = n
        }
    }

    /// Single data read as float32 directly; other classes through Double,
    /// exactly as the v5/v7 path converts them.
    func withFloats<R>(count n: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let values: [Float]
        if n == 0 {
            values = []
        } else if matClass == .single {
            try checkReadable(n)
            values = try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
                try readAll(facec_H5T_NATIVE_FLOAT(), n, into: buffer.baseAddress!)
                initialized = n
            }
        } else {
            values = try doubles(count: n).map { Float($0) }
        }
        return try values.withUnsafeBufferPointer(body)
    }

    /// Chunked deflate float32 data is placed straight into HWIO order while
    /// its chunks are inflated (MATLAB's chunks are 1×1 in H and W, so each
    /// becomes whole rows of Cout); anything else is read column-major and
    /// transposed.
    func streamHWIO(_ d: [Int], into sink: ModelWriter.TensorSink) throws {
        let n = d.reduce(1, *)
        guard matClass == .single, n > 0, n * 4 >= file.parallelReadMinimum else { return try streamHWIOByTransposing(d, into: sink) }
        try checkReadable(n)
        guard storedAs(facec_H5T_NATIVE_FLOAT()),
              let chunks = HDF5ParallelChunks(id, elementBytes: 4, minimumBytes: file.parallelReadMinimum),
              chunks.dims.count <= 4, chunks.dims.reduce(1, *) == n else { return try streamHWIOByTransposing(d, into: sink) }
        // HDF5 axis j is MATLAB axis r-1-j; in row-major HWIO that axis
        // steps by the product of the MATLAB dimensions after it.
        var rowMajor = [1, 1, 1, 1]
        for a in stride(from: 2, through: 0, by: -1) { rowMajor[a] = rowMajor[a + 1] * d[a + 1] }
        let r = chunks.dims.count
        let strides = (0..<r).map { rowMajor[r - 1 - $0] }
        let values = try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            try chunks.read(into: buffer.baseAddress!, elements: n, strides: strides)
            initialized = n
        }
        file.parallelReads += 1
        try values.withUnsafeBufferPointer { try sink($0) }
    }

    /// Data is read on demand and not kept.
    func releaseData() {}
}
