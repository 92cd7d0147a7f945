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

/// A MAT v4/v5/v7 (compressed) file read through libmatio. Variables are read
/// whole; their nodes give checked access into matio's memory. (MAT v7.3 is
/// HDF5 and goes to `MatV73File`.)
final class MatioFile: MatSource {
    let path: String
    private let mat: OpaquePointer
    private var variables: [UnsafeMutablePointer<matvar_t>] = []

    init(path: String) throws {
        self.path = path
        try checkReadableFile(path)
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
        return MatNode(storage: MatioArray(pointer: v, owner: self), path: name, source: self)
    }

    private static func detail() -> String { lastMatioMessage.isEmpty ? "" : ": \(lastMatioMessage)" }
}

/// One matio variable, or a struct field / cell element of one, in memory
/// that its `MatioFile` owns.
struct MatioArray: MatStorage {
    let pointer: UnsafeMutablePointer<matvar_t>
    let owner: MatioFile

    private var v: matvar_t { pointer.pointee }

    var matClass: MatClass {
        if v.class_type == MAT_C_UINT8 && v.isLogical != 0 { return .logical }
        let classes: [MatClass] = [.empty, .cell, .structure, .object, .char, .sparse, .double, .single, .int8, .uint8,
                                   .int16, .uint16, .int32, .uint32, .int64, .uint64, .function, .opaque]
        return classes[Int(min(v.class_type.rawValue, 17))]
    }

    var dims: [Int] { (0..<Int(max(0, v.rank))).map { v.dims[$0] } }
    var isComplex: Bool { v.isComplex != 0 }

    /// count × element size, nil on overflow.
    private func byteCount(_ n: Int) -> Int? {
        let (r, o) = n.multipliedReportingOverflow(by: Int(max(0, v.data_size)))
        return o ? nil : r
    }

    func field(_ name: String, index: Int) throws -> MatStorage? {
        Mat_VarGetStructFieldByName(pointer, name, index).map { MatioArray(pointer: $0, owner: owner) }
    }

    func cell(_ index: Int) throws -> MatStorage {
        guard let c = Mat_VarGetCell(pointer, Int32(index)) else { throw ReadFault("cell \(index + 1) is missing") }
        return MatioArray(pointer: c, owner: owner)
    }

    func text() throws -> String {
        let n = dims.reduce(1, *)
        guard let data = v.data else { throw ReadFault("text without data") }
        switch v.data_type {
        case MAT_T_UTF8:
            guard v.nbytes <= 4 * MatNode.maxCharacters else { throw ReadFault("text too long") }
            return String(decoding: UnsafeRawBufferPointer(start: data, count: v.nbytes), as: UTF8.self)
                .trimmingNULs()
        case MAT_T_UTF16, MAT_T_UINT16:
            guard v.nbytes >= n * 2 else { throw ReadFault("text data shorter than its size") }
            let units = data.assumingMemoryBound(to: UInt16.self)
            return String(decoding: UnsafeBufferPointer(start: units, count: n), as: UTF16.self)
        case MAT_T_UINT8, MAT_T_INT8:
            guard v.nbytes >= n else { throw ReadFault("text data shorter than its size") }
            return String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
        default:
            throw ReadFault("text stored as unsupported type \(v.data_type.rawValue)")
        }
    }

    func doubles(count n: Int) throws -> [Double] {
        guard let data = v.data, v.data_size > 0, let need = byteCount(n), v.nbytes >= need else {
            throw ReadFault("has less data than its dimensions need")
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
        default: throw ReadFault("is a \(matClass.rawValue), expected numbers")
        }
    }

    /// Single data is passed without a copy; other classes converted.
    func withFloats<R>(count n: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        guard let data = v.data, v.data_size > 0, let need = byteCount(n), v.nbytes >= need else {
            throw ReadFault("has less data than its dimensions need")
        }
        if v.class_type == MAT_C_SINGLE {
            return try body(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: n))
        }
        let converted = try doubles(count: n).map { Float($0) }
        return try converted.withUnsafeBufferPointer(body)
    }

    func releaseData() {
        guard let data = pointer.pointee.data, pointer.pointee.mem_conserve == 0, matClass.isNumeric else { return }
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
