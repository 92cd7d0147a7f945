import CMatio
#if canImport(Glibc)
import Glibc
#endif

/// The last message matio logged (it reports problems through a callback, not
/// return values); used to explain a failed read.
nonisolated(unsafe) private var lastMatioMessage = ""

private func matioLog(_ level: Int32, _ message: UnsafeMutablePointer<CChar>?) {
    if let message { lastMatioMessage = String(cString: message) }
}

/// A MAT file (v4/v5/v7 compressed/v7.3 HDF5) read through libmatio.
/// Variables are read whole; `MatNode` gives checked access into them.
final class MatFile {
    let path: String
    private let mat: OpaquePointer
    private var variables: [UnsafeMutablePointer<matvar_t>] = []

    init(path: String) throws {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else { throw ImportError(path, "cannot open: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ImportError(path, "not a regular file") }
        guard access(path, R_OK) == 0 else { throw ImportError(path, "cannot read: \(String(cString: strerror(errno)))") }
        Mat_LogInitFunc("facec", matioLog)
        lastMatioMessage = ""
        guard let m = Mat_Open(path, Int32(MAT_ACC_RDONLY.rawValue)) else {
            throw ImportError(path, "not a MAT file (or damaged)\(Self.detail())")
        }
        mat = m
    }

    deinit {
        for v in variables { Mat_VarFree(v) }
        Mat_Close(mat)
    }

    var versionName: String {
        switch Mat_GetVersion(mat) {
        case MAT_FT_MAT73: return "MAT v7.3 (HDF5)"
        case MAT_FT_MAT5: return "MAT v5/v7"
        case MAT_FT_MAT4: return "MAT v4"
        default: return "MAT (unknown version)"
        }
    }

    /// Names of the top-level variables (reads headers only).
    func variableNames() throws -> [String] {
        guard Mat_Rewind(mat) == 0 else { throw ImportError(path, "cannot read the variable list\(Self.detail())") }
        var names: [String] = []
        while let info = Mat_VarReadNextInfo(mat) {
            if let n = info.pointee.name { names.append(String(cString: n)) }
            Mat_VarFree(info)
            guard names.count < 10_000 else { break }
        }
        return names
    }

    /// Reads a whole top-level variable; it lives as long as this file object.
    func read(_ name: String) throws -> MatNode {
        lastMatioMessage = ""
        guard let v = Mat_VarRead(mat, name) else {
            throw ImportError(path, "cannot read variable '\(name)' (truncated or damaged file?)\(Self.detail())")
        }
        variables.append(v)
        return MatNode(pointer: v, path: name, owner: self)
    }

    private static func detail() -> String { lastMatioMessage.isEmpty ? "" : ": \(lastMatioMessage)" }
}

/// Checked access to one matio variable (or a struct field / cell element of
/// one). Element paths like `net.layers{5}.weights{1}` name it in errors.
struct MatNode {
    let pointer: UnsafeMutablePointer<matvar_t>
    let path: String
    /// Keeps the file (which owns matio's memory) alive as long as any node,
    /// including those captured by lazy weight readers.
    let owner: MatFile
    var file: String { owner.path }

    private var v: matvar_t { pointer.pointee }

    func fail(_ reason: String) -> ImportError { ImportError(file, "\(path): \(reason)") }

    /// MATLAB dimensions with trailing singletons restored to `rank` (MATLAB
    /// drops them: a 3×3×64×1 filter is stored as 3×3×64).
    func dims(padTo rank: Int = 0) -> [Int] {
        var d = (0..<Int(max(0, v.rank))).map { v.dims[$0] }
        while d.count < rank { d.append(1) }
        return d
    }

    /// Element count; Int.max if the (possibly hostile) dimensions overflow,
    /// which every size check below then rejects.
    var count: Int {
        dims().reduce(1) { a, d in
            let (r, o) = a.multipliedReportingOverflow(by: d)
            return o || d < 0 ? Int.max : r
        }
    }

    /// count × element size, nil on overflow.
    private func byteCount(_ n: Int) -> Int? {
        let (r, o) = n.multipliedReportingOverflow(by: Int(max(0, v.data_size)))
        return o ? nil : r
    }
    var isEmpty: Bool { count == 0 || v.class_type == MAT_C_EMPTY }
    var isStruct: Bool { v.class_type == MAT_C_STRUCT }
    var isCell: Bool { v.class_type == MAT_C_CELL }
    var isChar: Bool { v.class_type == MAT_C_CHAR }
    var isNumeric: Bool { (MAT_C_DOUBLE.rawValue...MAT_C_UINT64.rawValue).contains(v.class_type.rawValue) }
    var className: String {
        ["empty", "cell", "struct", "object", "char", "sparse", "double", "single", "int8", "uint8", "int16",
         "uint16", "int32", "uint32", "int64", "uint64", "function", "opaque"][Int(min(v.class_type.rawValue, 17))]
    }

    /// A struct field (of element `index`), nil if the struct has no such field.
    func field(_ name: String, index: Int = 0) -> MatNode? {
        guard isStruct, index < count, let f = Mat_VarGetStructFieldByName(pointer, name, index) else { return nil }
        return MatNode(pointer: f, path: "\(path).\(name)", owner: owner)
    }

    func requiredField(_ name: String) throws -> MatNode {
        guard isStruct else { throw fail("is a \(className), expected a struct") }
        guard let f = field(name) else { throw fail("missing field '\(name)'") }
        return f
    }

    /// Elements of a cell array, in MATLAB linear order.
    func cells() throws -> [MatNode] {
        guard isCell else { throw fail("is a \(className), expected a cell array") }
        guard count <= 1 << 20 else { throw fail("cell array of \(dims()) elements is implausibly large") }
        return try (0..<count).map { i in
            guard let c = Mat_VarGetCell(pointer, Int32(i)) else { throw fail("cell \(i + 1) is missing") }
            return MatNode(pointer: c, path: "\(path){\(i + 1)}", owner: owner)
        }
    }

    /// Char data as a string, whatever the storage (UTF-8 from scipy, UTF-16
    /// from Octave, UINT16 from MATLAB, or 8-bit).
    func string() throws -> String {
        guard isChar else { throw fail("is a \(className), expected text") }
        let n = count
        if n == 0 { return "" }
        guard let data = v.data else { throw fail("text without data") }
        switch v.data_type {
        case MAT_T_UTF8:
            guard v.nbytes <= 1 << 20 else { throw fail("text too long") }
            return String(decoding: UnsafeRawBufferPointer(start: data, count: v.nbytes), as: UTF8.self)
                .trimmingNULs()
        case MAT_T_UTF16, MAT_T_UINT16:
            guard n <= 1 << 20, v.nbytes >= n * 2 else { throw fail("text data shorter than its size") }
            let units = data.assumingMemoryBound(to: UInt16.self)
            return String(decoding: UnsafeBufferPointer(start: units, count: n), as: UTF16.self)
        case MAT_T_UINT8, MAT_T_INT8:
            guard n <= 1 << 20, v.nbytes >= n else { throw fail("text data shorter than its size") }
            return String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
        default:
            throw fail("text stored as unsupported type \(v.data_type.rawValue)")
        }
    }

    /// Numeric data converted to Double (for small parameters such as pad,
    /// stride, pool, imageSize, averageImage), whatever the class.
    func doubles(max: Int = 1 << 24) throws -> [Double] {
        guard isNumeric || (v.class_type == MAT_C_UINT8 && v.isLogical != 0) else {
            throw fail("is a \(className), expected numbers")
        }
        guard v.isComplex == 0 else { throw fail("is complex") }
        let n = count
        guard n <= max else { throw fail("has \(n) elements, more than \(max)") }
        if n == 0 { return [] }
        guard let data = v.data, v.data_size > 0, let need = byteCount(n), v.nbytes >= need else {
            throw fail("has less data than its dimensions need")
        }
        func read<T>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
            let p = data.assumingMemoryBound(to: T.self)
            return (0..<n).map { convert(p[$0]) }
        }
        switch v.class_type {
        case MAT_C_DOUBLE: return read(Double.self) { $0 }
        case MAT_C_SINGLE: return read(Float.self) { Double($0) }
        case MAT_C_INT8: return read(Int8.self) { Double($0) }
        case MAT_C_UINT8: return read(UInt8.self) { Double($0) }
        case MAT_C_INT16: return read(Int16.self) { Double($0) }
        case MAT_C_UINT16: return read(UInt16.self) { Double($0) }
        case MAT_C_INT32: return read(Int32.self) { Double($0) }
        case MAT_C_UINT32: return read(UInt32.self) { Double($0) }
        case MAT_C_INT64: return read(Int64.self) { Double($0) }
        case MAT_C_UINT64: return read(UInt64.self) { Double($0) }
        default: throw fail("is a \(className), expected numbers")
        }
    }

    /// Integer-valued parameters (pad, stride, pool size), checked.
    func integers(range: ClosedRange<Int> = 0...65_536) throws -> [Int] {
        try doubles(max: 64).map { d in
            guard d.isFinite, d.rounded() == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
                throw fail("value \(d) is not an integer in \(range)")
            }
            return Int(d)
        }
    }

    /// Streams the values (converted to Float) in MATLAB column-major order,
    /// calling `body` with the raw element pointer for single data (no copy)
    /// or a converted copy for other classes.
    func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        guard isNumeric, v.isComplex == 0 else { throw fail("is a \(className)\(v.isComplex != 0 ? " (complex)" : ""), expected real numbers") }
        let n = count
        guard let data = v.data, v.data_size > 0, let need = byteCount(n), v.nbytes >= need else {
            throw fail("has less data than its dimensions need")
        }
        if v.class_type == MAT_C_SINGLE {
            return try body(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: n))
        }
        let converted = try doubles(max: Int.max).map { Float($0) }
        return try converted.withUnsafeBufferPointer(body)
    }

    /// Frees the data of this node once it has been converted, so a full-size
    /// model is not held twice during conversion.
    func releaseData() {
        guard let data = pointer.pointee.data, pointer.pointee.mem_conserve == 0, isNumeric else { return }
        free(data)
        pointer.pointee.data = nil
        pointer.pointee.nbytes = 0
        pointer.pointee.rank = 0
    }
}

extension String {
    fileprivate func trimmingNULs() -> String {
        var s = Substring(self)
        while s.last == "\0" { s.removeLast() }
        return String(s)
    }
}
