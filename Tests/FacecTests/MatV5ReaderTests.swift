@testable import FacecMAT
import CMatio
import Foundation
import Testing
@testable import FacecImporters

/// facec's own MAT v5/v7 reader against libmatio, kept in the tests only as
/// an independent reference: every variable of every Level-5 fixture,
/// recursively — class, dimensions, complexity, field names, text, and
/// every numeric value bit for bit (as Double, and as Float where the
/// importer reads weights).
@Suite struct MatV5ReaderTests {
    static let vggDir = TestPaths.fixtures.appendingPathComponent("vgg")

    /// The v5/v6/v7 fixtures (not *_v73*); bad_truncated.mat is checked below.
    static let level5: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: vggDir.path)) ?? [])
        .filter { $0.hasSuffix(".mat") && !$0.contains("_v73") && $0 != "bad_truncated.mat" }.sorted()

    @Test func fixturesAreFound() {
        #expect(Self.level5.count >= 12, "\(Self.level5)")
    }

    @Test(arguments: level5)
    func agreesWithLibmatio(_ name: String) throws {
        let path = Self.vggDir.appendingPathComponent(name).path
        let file = try MatV5File(path: path)
        let mat = try #require(Mat_Open(path, Int32(MAT_ACC_RDONLY.rawValue)), "libmatio cannot open \(name)")
        defer { Mat_Close(mat) }
        var names: [String] = []
        while let v = Mat_VarReadNext(mat) {
            defer { Mat_VarFree(v) }
            let varName = String(cString: v.pointee.name)
            names.append(varName)
            let node = try file.read(varName)
            let mine = try #require(node.storage as? MatV5Array)
            var compared = 0
            try Self.compare(v, mine, "\(name):\(varName)", &compared)
            #expect(compared > 0)
        }
        #expect(try file.variableNames() == names)
        #expect(!names.isEmpty)
    }

    /// libmatio's class, as its old facec backend mapped it.
    static func matioClass(_ v: matvar_t) -> MatClass {
        if v.class_type == MAT_C_UINT8 && v.isLogical != 0 { return .logical }
        let classes: [MatClass] = [.empty, .cell, .structure, .object, .char, .sparse, .double, .single, .int8, .uint8,
                                   .int16, .uint16, .int32, .uint32, .int64, .uint64, .function, .opaque]
        return classes[Int(min(v.class_type.rawValue, 17))]
    }

    static func compare(_ p: UnsafeMutablePointer<matvar_t>, _ mine: MatV5Array, _ where_: String, _ compared: inout Int) throws {
        compared += 1
        let v = p.pointee
        let dims = (0..<Int(v.rank)).map { v.dims[$0] }
        // An miMATRIX of 0 bytes: libmatio leaves it rank 0; facec says 0×0.
        if v.class_type == MAT_C_EMPTY && dims.isEmpty {
            #expect(mine.matClass == .empty && mine.dims == [0, 0], "\(where_)")
            return
        }
        #expect(mine.matClass == matioClass(v), "\(where_): class")
        #expect(mine.dims == dims, "\(where_): dims \(mine.dims) vs \(dims)")
        #expect(mine.isComplex == (v.isComplex != 0), "\(where_): complexity")
        let count = dims.reduce(1, *)
        switch mine.matClass {
        case .cell:
            #expect(mine.children.count == count, "\(where_): cells")
            for i in 0..<min(count, mine.children.count) {
                let c = try #require(Mat_VarGetCell(p, Int32(i)), "\(where_){\(i + 1)}: libmatio has no cell")
                try compare(c, mine.children[i], "\(where_){\(i + 1)}", &compared)
            }
        case .structure:
            let n = Int(Mat_VarGetNumberOfFields(p))
            let names = (0..<n).map { String(cString: Mat_VarGetStructFieldnames(p)[$0]!) }
            #expect(mine.fieldNames == names, "\(where_): field names")
            for i in 0..<count {
                for (f, field) in names.enumerated() {
                    let theirs = try #require(Mat_VarGetStructFieldByIndex(p, f, i), "\(where_)(\(i + 1)).\(field)")
                    let ours = try #require(try mine.field(field, index: i) as? MatV5Array)
                    try compare(theirs, ours, "\(where_)(\(i + 1)).\(field)", &compared)
                }
            }
        case .char:
            #expect(try mine.text() == matioText(v), "\(where_): text")
        case _ where mine.matClass.isNumeric || mine.matClass == .logical:
            let (re, im) = matioValues(v, count)
            let ours = try mine.doubles(count: count)
            #expect(ours.map(\.bitPattern) == re.map(\.bitPattern), "\(where_): values")
            if v.isComplex != 0 {
                #expect(try mine.imaginaryDoubles(count: count).map(\.bitPattern) == im.map(\.bitPattern), "\(where_): imaginary values")
            } else if mine.matClass != .logical {
                let floats = try mine.withFloats(count: count) { Array($0) }
                #expect(floats.map(\.bitPattern) == re.map { Float($0).bitPattern }, "\(where_): floats")
            }
        default:
            break   // sparse, object, function, opaque: class and dims only
        }
    }

    /// libmatio's text, decoded as facec's libmatio backend did.
    static func matioText(_ v: matvar_t) -> String? {
        let n = (0..<Int(v.rank)).map { v.dims[$0] }.reduce(1, *)
        guard let data = v.data else { return n == 0 ? "" : nil }
        switch v.data_type {
        case MAT_T_UTF8:
            var bytes = Array(UnsafeRawBufferPointer(start: data, count: v.nbytes))[...]
            while bytes.last == 0 { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        case MAT_T_UTF16, MAT_T_UINT16:
            return String(decoding: UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt16.self), count: n), as: UTF16.self)
        case MAT_T_UINT8, MAT_T_INT8:
            return String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
        default:
            return nil
        }
    }

    /// libmatio's values (already converted to the class) as Double.
    static func matioValues(_ v: matvar_t, _ n: Int) -> ([Double], [Double]) {
        func convert(_ data: UnsafeMutableRawPointer?) -> [Double] {
            guard let data, n > 0 else { return [] }
            func read<T>(_: T.Type, _ f: (T) -> Double) -> [Double] {
                let q = data.assumingMemoryBound(to: T.self)
                return (0..<n).map { f(q[$0]) }
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
            default: return []
            }
        }
        if v.isComplex != 0, let split = v.data?.assumingMemoryBound(to: mat_complex_split_t.self).pointee {
            return (convert(split.Re), convert(split.Im))
        }
        return (convert(v.data), [])
    }

    /// A big-endian file ("MI") reads as its little-endian twin.
    @Test func bigEndianFilesReadAlike() throws {
        let dir = TempDir()
        var values: [[Double]] = []
        for big in [false, true] {
            let w = MatV5TestWriter(bigEndian: big)
            let bytes = w.file(w.structure("s", fields: ["w", "name", "c"], values: [
                w.doubles(dims: [2, 3], [1.5, -2, 3e300, .pi, 0, -0.0]),
                w.text("José"),
                w.cell(dims: [1, 2], [w.doubles(dims: [1, 1], [7]), w.matrix(9, dims: [1, 2], flags: 0x0200, body: w.small(2, [1, 0]))]),
            ]), w.compressed(w.doubles("z", dims: [1, 2], [4, 5])))
            let file = try MatV5File(path: bytes.written(dir, "e\(big).mat"))
            #expect(try file.variableNames() == ["s", "z"])
            let s = try file.read("s")
            #expect(try s.requiredField("name").string() == "José")
            let c = try s.requiredField("c").cells()
            #expect(c[1].matClass == MatClass.logical)
            #expect(try c[1].doubles() == [1, 0])
            values.append(try s.requiredField("w").doubles() + c[0].doubles() + file.read("z").doubles())
        }
        #expect(values[0].map(\.bitPattern) == values[1].map(\.bitPattern))
        #expect(values[0][0...2] == [1.5, -2, 3e300])
    }
}
