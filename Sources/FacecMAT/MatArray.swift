import FacecCore

/// MATLAB array classes, as MAT files of every version name them.
enum MatClass: String {
    case double, single, int8, uint8, int16, uint16, int32, uint32, int64, uint64
    case logical, char, cell
    case structure = "struct"
    case empty, sparse, object, function = "function_handle", opaque

    package var isNumeric: Bool {
        switch self {
        case .double, .single, .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64: return true
        default: return false
        }
    }
}

/// A MAT file of any version, opened by the reader for that version
/// (`MatV5File` for v5/v7, `MatV73File` for v7.3).
package protocol MatSource: AnyObject {
    var path: String { get }
    /// e.g. "MAT v7.3 (HDF5)", recorded in the model's provenance.
    var versionName: String { get }
    /// Names of the top-level variables.
    func variableNames() throws -> [String]
    /// A top-level variable (its data may be read later, when asked for).
    func read(_ name: String) throws -> MatNode
}

/// One array as a reader backend holds it. Backends throw `ReadFault`s with
/// the reason only; `MatNode` adds the file and the element path.
protocol MatStorage {
    var matClass: MatClass { get }
    /// MATLAB dimensions, column-major, as stored (trailing singletons may
    /// be dropped).
    var dims: [Int] { get }
    var isComplex: Bool { get }
    /// Field `name` of struct element `index`; nil when the struct has no
    /// such field.
    func field(_ name: String, index: Int) throws -> MatStorage?
    /// Element `index` of a cell array, in MATLAB's linear (column-major)
    /// order (`MatNode` checks the index).
    func cell(_ index: Int) throws -> MatStorage
    /// The characters of a char array, column-major.
    func text() throws -> String
    /// All `count` values converted to Double.
    func doubles(count: Int) throws -> [Double]
    /// All `count` values as Float, column-major (single data without a
    /// conversion where the backend can).
    func withFloats<R>(count: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R
    /// The values of a 4-D [H W Cin Cout] array (`dims`, trailing singletons
    /// restored) in HWIO order, in whole rows of Cout (see the default).
    func streamHWIO(_ dims: [Int], into sink: FloatSink) throws
    /// Frees data a backend holds in memory once it has been converted.
    func releaseData()
}

extension MatStorage {
    package func streamHWIO(_ dims: [Int], into sink: FloatSink) throws {
        try streamHWIOByTransposing(dims, into: sink)
    }

    /// All values column-major, reordered one (h, w) slab at a time.
    func streamHWIOByTransposing(_ d: [Int], into sink: FloatSink) throws {
        try withFloats(count: d.reduce(1, *)) {
            try ColumnMajor.streamHWIO($0, height: d[0], width: d[1], inputs: d[2], outputs: d[3], into: sink)
        }
    }
}

/// Checked access to one MAT array (a variable, or a struct field / cell
/// element of one), whatever the file version. Element paths like
/// `net.layers{5}.weights{1}` name it in errors.
package struct MatNode {
    let storage: MatStorage
    package let path: String
    /// Keeps the file open (and its reader's memory alive) as long as any
    /// node, including those captured by lazy weight readers.
    let source: MatSource
    package var file: String { source.path }

    /// Largest cell array, char array and small-parameter array read.
    static let maxCells = 1 << 20, maxCharacters = 1 << 20

    package func fail(_ reason: String) -> FacecError { FacecError(.weights, file, "\(path): \(reason)") }

    /// Runs a backend call, naming this node in its faults.
    private func checked<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let fault as ReadFault {
            throw FacecError(.weights, file, "\(path)\(fault.within): \(fault.reason)")
        }
    }

    private func child(_ storage: MatStorage, _ suffix: String) -> MatNode {
        MatNode(storage: storage, path: path + suffix, source: source)
    }

    /// MATLAB dimensions with trailing singletons restored to `rank` (MATLAB
    /// drops them: a 3×3×64×1 filter is stored as 3×3×64).
    package func dims(padTo rank: Int = 0) -> [Int] {
        var d = storage.dims
        while d.count < rank { d.append(1) }
        return d
    }

    /// Element count; Int.max if the (possibly hostile) dimensions overflow,
    /// which every size check then rejects.
    package var count: Int {
        storage.dims.reduce(1) { a, d in
            let (r, o) = a.multipliedReportingOverflow(by: d)
            return o || d < 0 ? Int.max : r
        }
    }

    var matClass: MatClass { storage.matClass }
    package var isEmpty: Bool { count == 0 || matClass == .empty }
    package var isStruct: Bool { matClass == .structure }
    package var isCell: Bool { matClass == .cell }
    package var isChar: Bool { matClass == .char }
    package var isNumeric: Bool { matClass.isNumeric }
    package var className: String { matClass.rawValue }

    /// How a path names a field: `.name` of a 1×1 struct, `(3).name` of
    /// the third element of a struct array.
    static func fieldSuffix(_ name: String, index: Int, of count: Int) -> String {
        count == 1 ? ".\(name)" : "(\(index + 1)).\(name)"
    }

    /// A struct field (of element `index`), nil if the struct has no such field.
    package func field(_ name: String, index: Int = 0) throws -> MatNode? {
        guard isStruct, index < count else { return nil }
        return try checked { try storage.field(name, index: index) }.map { child($0, Self.fieldSuffix(name, index: index, of: count)) }
    }

    package func requiredField(_ name: String) throws -> MatNode {
        guard isStruct else { throw fail("is a \(className), expected a struct") }
        guard let f = try field(name) else { throw fail("missing field '\(name)'") }
        return f
    }

    /// Elements of a cell array, in MATLAB linear order.
    package func cells() throws -> [MatNode] {
        try (0..<cellCount()).map { try cell($0) }
    }

    /// The number of elements of a cell array, checked to be plausible.
    package func cellCount() throws -> Int {
        guard isCell else { throw fail("is a \(className), expected a cell array") }
        guard count <= Self.maxCells else { throw fail("cell array of \(dims()) elements is implausibly large") }
        return isEmpty ? 0 : count
    }

    /// One element of a cell array (for long cell arrays read element by
    /// element, so that only one is open at a time).
    package func cell(_ index: Int) throws -> MatNode {
        guard index >= 0, index < (try cellCount()) else { throw fail("has no cell \(index + 1)") }
        return child(try checked { try storage.cell(index) }, "{\(index + 1)}")
    }

    /// Char data as a string, whatever the storage (UTF-8, UTF-16, UINT16,
    /// UTF-32 or 8-bit).
    package func string() throws -> String {
        guard isChar else { throw fail("is a \(className), expected text") }
        if count == 0 { return "" }
        guard count <= Self.maxCharacters else { throw fail("text of \(dims()) characters is too long") }
        return try checked { try storage.text() }
    }

    /// Numeric (or logical) data converted to Double, for small parameters
    /// such as pad, stride, pool, imageSize, averageImage.
    package func doubles(max: Int = 1 << 24) throws -> [Double] {
        guard isNumeric || matClass == .logical else { throw fail("is a \(className), expected numbers") }
        guard !storage.isComplex else { throw fail("is complex") }
        let n = count
        guard n <= max else { throw fail("has \(n) elements, more than \(max)") }
        if n == 0 { return [] }
        return try checked { try storage.doubles(count: n) }
    }

    /// Integer-valued parameters (pad, stride, pool size), checked.
    package func integers(range: ClosedRange<Int> = 0...65_536) throws -> [Int] {
        try doubles(max: 64).map { d in
            guard d.isFinite, d.rounded() == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
                throw fail("value \(d) is not an integer in \(range)")
            }
            return Int(d)
        }
    }

    /// The values converted to Float, in MATLAB column-major order.
    package func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        guard isNumeric, !storage.isComplex else {
            throw fail("is a \(className)\(storage.isComplex ? " (complex)" : ""), expected real numbers")
        }
        let n = count
        guard n < Int.max else { throw fail("has dimensions \(dims()) whose product overflows") }
        return try checked { try storage.withFloats(count: n, body) }
    }

    /// A 4-D numeric array (`dims(padTo: 4)` = [H W Cin Cout]) in HWIO order.
    package func streamHWIO(into sink: FloatSink) throws {
        guard isNumeric, !storage.isComplex else {
            throw fail("is a \(className)\(storage.isComplex ? " (complex)" : ""), expected real numbers")
        }
        let d = dims(padTo: 4)
        guard d.count == 4, count < Int.max else { throw fail("has dimensions \(dims()), expected [H W Cin Cout]") }
        try checked { try storage.streamHWIO(d, into: sink) }
    }

    /// Frees the data of this node once it has been converted, so a
    /// full-size model is not held twice during conversion.
    package func releaseData() { storage.releaseData() }
}

/// Where a streamed array's floats go (FacecFormat's `ModelWriter.TensorSink`
/// has this type: the converter writes them straight into the model file).
package typealias FloatSink = (UnsafeBufferPointer<Float>) throws -> Void
