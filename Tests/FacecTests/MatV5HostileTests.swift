@testable import FacecMAT
import Foundation
import FacecCore
import Testing
@testable import FacecImporters

/// Damaged and hostile Level-5 files (built by MatV5TestWriter): each is
/// refused with one line naming the file and the fault, or read within
/// bounds — never a trap, a hang or an allocation the file does not back.
@Suite struct MatV5HostileTests {
    let w = MatV5TestWriter()

    /// Opens, lists, reads and walks every variable (all data touched).
    static func readAll(_ path: String) throws -> Int {
        let file = try MatV5File(path: path)
        var arrays = 0
        func walk(_ a: MatV5Array) throws {
            arrays += 1
            let n = a.dims.reduce(1, *)
            switch a.matClass {
            case .cell, .structure: try a.children.forEach(walk)
            case .char: _ = try a.text()
            case _ where a.matClass.isNumeric: _ = try a.withFloats(count: n) { $0.count }
            default: break
            }
        }
        for name in try file.variableNames() {
            try walk(try #require(try file.read(name).storage as? MatV5Array))
        }
        return arrays
    }

    /// The refusal of `bytes`, checked to be one line naming the file.
    func refusal(_ bytes: [UInt8], _ dir: TempDir = TempDir(), sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = bytes.written(dir, "hostile.mat")
        let text = try #require(thrown(FacecError.self, sourceLocation: sourceLocation) { try Self.readAll(path) }, sourceLocation: sourceLocation).description
        #expect(text.hasPrefix(path) && !text.contains("\n"), "\(text)", sourceLocation: sourceLocation)
        return text
    }

    @Test(arguments: ["vgg_oxford_v6.mat", "vgg_oxford_v7.mat", "vgg_narrow_pad.mat", "vgg_octave_v7.mat", "vgg_structarray_v7.mat"])
    func truncatedAtEvery64th(_ name: String) throws {
        let full = try Array(Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("vgg/" + name))))
        let dir = TempDir()
        for k in 1..<64 {
            let cut = full.count * k / 64
            let path = Array(full[0..<cut]).written(dir, "cut\(k).mat")
            #expect(throws: FacecError.self, "\(name) cut at \(cut)") { try Self.readAll(path) }
            let error = thrown(FacecError.self) { try ModelImporter.load(path: path) }
            #expect(error.map { !$0.description.contains("\n") } == true)
        }
        // The fixture made by truncating a real file says so.
        let bad = try refusal(Array(Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("vgg/bad_truncated.mat")))))
        #expect(bad.contains("truncated"), "\(bad)")
    }

    @Test func hugeDeclaredSizesAreRefused() throws {
        let x = w.doubles("x", dims: [1, 1], [1])
        let top = try refusal(w.file(Array(x.prefix(4)) + w.u32(0xFFFF_FFF0) + Array(x.dropFirst(8))))
        #expect(top.contains("declares 4294967280 bytes"), "\(top)")
        // A data element claiming 2 GB inside a small array.
        let inner = try refusal(w.file(w.matrix(6, dims: [1, 1], name: "x", body: w.element(9, w.f64(1), declared: 0x7FFF_FFF0))))
        #expect(inner.contains("x: truncated or damaged: an element declares 2147483632 bytes"), "\(inner)")
        // The same inside a compressed element: the inflater has no size to check against.
        let z = try refusal(w.file(w.compressed(w.matrix(6, dims: [1, 268_435_455], name: "x", body: w.element(9, w.f64(1), declared: 0x7FFF_FFF8),
                                                               declared: 0xFFFF_FFF0))))
        #expect(z.contains("x: compressed data ends"), "\(z)")
    }

    @Test func dimensionsThatOverflowOrDisagreeAreRefused() throws {
        let overflow = try refusal(w.file(w.doubles("x", dims: [Int32.max, Int32.max, Int32.max], [1])))
        #expect(overflow.contains("overflow"), "\(overflow)")
        let tooMany = try refusal(w.file(w.doubles("x", dims: [1 << 30, 1 << 30], [1])))
        #expect(tooMany.contains("more than 268435456"), "\(tooMany)")
        let mismatch = try refusal(w.file(w.doubles("x", dims: [2, 3], [1, 2, 3])))
        #expect(mismatch.contains("holds 3 values but the dimensions need 6"), "\(mismatch)")
        let negative = try refusal(w.file(w.doubles("x", dims: [-1, 3], [1, 2, 3])))
        #expect(negative.contains("negative"), "\(negative)")
        let cells = try refusal(w.file(w.cell("c", dims: [100_000, 100_000], [])))
        #expect(cells.contains("does not fit"), "\(cells)")
    }

    @Test func compressedElementsMustHoldExactlyTheirArray() throws {
        let x = w.doubles("x", dims: [1, 2], [1, 2])
        // The inner tag declares 8 bytes less than the stream holds.
        var lying = x
        lying.replaceSubrange(4..<8, with: w.u32(UInt32(x.count - 16)))
        let past = try refusal(w.file(w.compressed(lying)))
        #expect(past.contains("x: "), "\(past)")
        let more = try refusal(w.file(w.compressed(x + [0, 0, 0, 0, 0, 0, 0, 0])))
        #expect(more.contains("inflates to more than"), "\(more)")
        // A stream cut short, and one that is not zlib at all.
        let z = w.compressed(x)
        var short = Array(z.prefix(z.count - 6))
        short.replaceSubrange(4..<8, with: w.u32(UInt32(short.count - 8)))
        let shortText = try refusal(w.file(short))
        #expect(shortText.contains("truncated"), "\(shortText)")
        let garbage = try refusal(w.file(w.u32(15) + w.u32(16) + [UInt8](repeating: 0xAB, count: 16)))
        #expect(garbage.contains("damaged compressed data"), "\(garbage)")
    }

    /// ~100 KB inflating to 100 MB of zeros: a legal array, read within
    /// bounds (memory grows only as output arrives: deflate's ~1032×
    /// limit is the cap). The same stream under a header declaring 2^28
    /// doubles ends early and is refused, after allocating only what came.
    @Test func zlibBombIsReadWithinBoundsOrRefused() throws {
        let n = 100 << 17   // 13 M doubles, 100 MiB
        let dir = TempDir()
        let head = { (count: Int) in
            w.u32(14) + w.u32(UInt32(48 + 8 + count * 8))
                + w.element(6, w.u32(6) + w.u32(0)) + w.element(5, w.i32(1) + w.i32(Int32(count))) + w.element(1, Array("b".utf8))
                + w.u32(9) + w.u32(UInt32(count * 8))
        }
        let bomb = w.header() + w.compressed(head(n), thenZeros: n * 8)
        #expect(bomb.count < 200_000)
        let file = try MatV5File(path: bomb.written(dir, "bomb.mat"))
        let b = try file.read("b")
        #expect(b.dims() == [1, n])
        #expect(try b.withFloats { $0.count == n && $0.allSatisfy { $0 == 0 } })
        b.releaseData()

        let liar = w.header() + w.compressed(head(1 << 28), thenZeros: n * 8)
        let text = try refusal(liar, dir)
        #expect(text.contains("compressed data ends"), "\(text)")
    }

    @Test func nestingIsBounded() throws {
        /// `depth` cells around a number, the outermost named "deep".
        func nested(_ depth: Int) -> [UInt8] {
            var e = w.doubles(dims: [1, 1], [42])
            for _ in 0..<(depth - 1) { e = w.cell(dims: [1, 1], [e]) }
            return w.file(w.cell("deep", dims: [1, 1], [e]))
        }
        let dir = TempDir()
        // 63 cells around a number: 64 levels, the limit.
        #expect(try Self.readAll(nested(63).written(dir, "ok.mat")) == 64)
        _ = try refusal(nested(64), dir)
        let deep = try refusal(nested(200), dir)
        #expect(deep.contains("deep{1}{1}") && deep.contains("nested deeper than 64"), "\(deep)")
    }

    @Test func structFieldNameLengths() throws {
        let dir = TempDir()
        // Length 0 with names present: refused (no division by zero).
        let zero = try refusal(w.file(w.matrix(2, dims: [1, 1], name: "s", body: w.small(5, w.i32(0)) + w.element(1, Array("abcdefgh".utf8)))), dir)
        #expect(zero.contains("field-name length of 0"), "\(zero)")
        // Length 0 and no names: a struct without fields.
        let empty = try MatV5File(path: w.file(w.structure("s", nameLength: 0, fields: [], values: [])).written(dir, "e.mat")).read("s")
        #expect(empty.isStruct)
        #expect(try empty.field("a") == nil)
        let long = try refusal(w.file(w.structure("s", nameLength: 1000, fields: ["a"], values: [w.doubles(dims: [1, 1], [1])])), dir)
        #expect(long.contains("field-name length [1000]"), "\(long)")
        let ragged = try refusal(w.file(w.structure("s", nameLength: 32, fields: ["a"], values: [w.doubles(dims: [1, 1], [1])])
            .replacing(w.small(5, w.i32(32)), with: w.small(5, w.i32(24)))), dir)
        #expect(ragged.contains("not a multiple"), "\(ragged)")
        // A struct array of 3 elements × 1 field indexes each element.
        let arr = try MatV5File(path: w.file(w.structure("s", dims: [1, 3], fields: ["v"], values: (1...3).map { w.doubles(dims: [1, 1], [Double($0)]) }))
            .written(dir, "a.mat")).read("s")
        #expect(try (0..<3).map { try arr.field("v", index: $0)!.doubles() } == [[1], [2], [3]])
    }

    @Test func otherFormatsAreRefusedInOneLine() throws {
        let dir = TempDir()
        // MAT v4: a 20-byte header (type, rows, cols, imagf, namelen), no text.
        let v4 = [0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0x78, 0] + w.f64(3) + [UInt8](repeating: 0, count: 120)
        let p4 = v4.written(dir, "v4.mat")
        let e4 = try #require(thrown(FacecError.self) { try MatV5File(path: p4) })
        #expect(e4.reason == "not a MAT v5/v7 file (MAT v4 and other formats are not read)")
        #expect(throws: FacecError.self) { try ModelImporter.load(path: p4) }
        var v2 = w.header()
        v2[124] = 0; v2[125] = 2
        let version = try refusal(v2, dir)
        #expect(version.contains("not Level 5"), "\(version)")
        let stray = try refusal(w.file(w.doubles("x", dims: [1, 1], [1])) + [1, 2, 3], dir)
        #expect(stray.contains("3 stray bytes"), "\(stray)")
    }

    /// Unknown top-level elements are skipped; sparse and object arrays keep
    /// their class but are not read.
    @Test func unknownElementsAndUnreadClasses() throws {
        let dir = TempDir()
        let file = try MatV5File(path: w.file(w.element(99, [1, 2, 3], pad: false), w.doubles("x", dims: [1, 1], [5]),
                                              w.matrix(5, dims: [3, 3], name: "sp", body: w.element(5, [0, 0, 0, 0])),
                                              w.element(2, [])).written(dir, "u.mat"))
        #expect(try file.variableNames() == ["x", "sp"])
        #expect(try file.read("x").doubles() == [5])
        let sp = try file.read("sp")
        #expect(sp.matClass == .sparse && sp.dims() == [3, 3])
        #expect(throws: FacecError.self) { try sp.doubles() }
        let unknown = try refusal(w.file(w.matrix(42, dims: [1, 1], name: "q", body: [])), dir)
        #expect(unknown.contains("q: unknown array class 42"), "\(unknown)")
    }

    /// Many variables, none a model: the refusal lists ten, still one short line.
    @Test func manyVariablesAreListedBriefly() throws {
        let dir = TempDir()
        let vars = (0..<30).map { w.compressed(w.doubles("v\($0)", dims: [1, 1], [Double($0)])) }
        let path = w.file(vars.flatMap { $0 }).written(dir, "many.mat")
        #expect(try MatV5File(path: path).variableNames().count == 30)
        let error = try #require(thrown(FacecError.self) { try ModelImporter.load(path: path) })
        #expect(error.reason.hasSuffix("(variables: v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, … (30 in all))"), "\(error)")
    }

    /// A million tiny elements: linear time, both at the top level and in
    /// one cell array (each an 8-byte empty miMATRIX).
    @Test func millionsOfTinyElementsTakeLinearTime() throws {
        let dir = TempDir()
        let start = Date()
        let top = w.header() + Array([[UInt8]](repeating: w.element(98, []), count: 1_000_000).joined())
        #expect(try MatV5File(path: top.written(dir, "top.mat")).variableNames() == [])
        let empty = w.element(14, [])
        let cells = w.file(w.cell("c", dims: [1, 1_000_000], Array(repeating: empty, count: 1_000_000)))
        let c = try MatV5File(path: cells.written(dir, "cells.mat")).read("c")
        #expect(try c.cellCount() == 1_000_000)
        #expect(try c.cell(999_999).isEmpty)
        #expect(Date().timeIntervalSince(start) < 20)
    }

    /// Every seed and upstream reproducer of the `mat` fuzz target is
    /// refused with one line through the front door.
    @Test func fuzzCorpusIsRefusedInOneLine() throws {
        let fuzz = TestPaths.repo.appendingPathComponent("Tests/Fuzz")
        let corpus = FuzzRegressionTests.files(fuzz.appendingPathComponent("corpus/mat"))
            + FuzzRegressionTests.files(fuzz.appendingPathComponent("regressions/mat"))
            + FuzzRegressionTests.files(fuzz.appendingPathComponent("upstream")).filter { $0.contains("libmatio-") }
        #expect(!corpus.isEmpty)
        for path in corpus {
            let error = thrown(FacecError.self, "\(path)") { try ModelImporter.load(path: path) }
            #expect(error.map { !$0.description.contains("\n") } == true, "\(String(describing: error))")
        }
    }
}

extension Array where Element == UInt8 {
    /// The first occurrence of `old` replaced (test files only).
    func replacing(_ old: [UInt8], with new: [UInt8]) -> [UInt8] {
        guard !old.isEmpty, let at = (0...(count - old.count)).first(where: { Array(self[$0..<($0 + old.count)]) == old }) else { return self }
        return Array(self[..<at]) + new + Array(self[(at + old.count)...])
    }
}
