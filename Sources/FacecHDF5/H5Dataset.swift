import FacecCore
/// A dataset's type, shape and storage, read from its header and checked:
/// the storage must hold every element the shape declares (HDF5 itself
/// would fill what is missing with zeros, silently).
package struct H5Dataset {
    let object: H5Object
    package let type: H5Datatype
    /// HDF5 (row-major) dimensions; [] for a scalar.
    package let dims: [Int]
    package let count: Int
    package let storage: Storage
    let filters: [H5Filter]

    package enum Storage {
        case compact(Range<Int>)
        /// nil address: never written.
        case contiguous(UInt64?, size: Int)
        /// Chunks of `chunk` elements per axis, found through `index`.
        case chunked(H5ChunkIndex, chunk: [Int])
    }

    package var file: H5File { object.file }
    /// The dimensions for messages, e.g. "2×3×3×4".
    var shape: String { dims.isEmpty ? "1" : dims.map(String.init).joined(separator: "×") }
    var elementBytes: Int { type.size }
    /// Bytes of the whole dataset as stored.
    package var byteCount: Int { count * elementBytes }

    /// Largest dataset facec reads (VGG-Face fc6 is 411 MB).
    static let maxBytes = 1 << 32

    package init(_ object: H5Object) throws {
        self.object = object
        var t = object.cursor(try object.required(H5Message.datatype, "datatype"))
        type = try H5Datatype.parse(&t)
        var s = object.cursor(try object.required(H5Message.dataspace, "dataspace"))
        let space = try H5Dataspace.parse(&s)
        guard let n = space.count else { throw ReadFault("has dimensions whose product overflows") }
        let dims = (space.dims ?? []).map { Int($0) }
        self.dims = dims
        count = n
        let (total, overflow) = n.multipliedReportingOverflow(by: type.size)
        guard !overflow, total < Int.max / 2 else { throw ReadFault("has dimensions whose product overflows") }
        guard object.header.first(H5Message.external) == nil else {
            throw ReadFault("keeps its data in an external file, which facec does not read")
        }
        filters = try object.header.first(H5Message.filters).map { try H5Filter.pipeline(object.cursor($0)) } ?? []
        storage = try Self.layout(object, rank: dims.count, elementBytes: type.size)
    }

    private static func layout(_ object: H5Object, rank: Int, elementBytes: Int) throws -> Storage {
        var c = object.cursor(try object.required(H5Message.layout, "storage layout"))
        let version = try c.u8()
        guard version == 3 || version == 4 else { throw ReadFault("has a storage layout of version \(version), which facec does not read") }
        let layoutClass = try c.u8()
        if version == 4, layoutClass == 2 { return try chunkedV4(&c, rank: rank, elementBytes: elementBytes) }
        switch layoutClass {
        case 0:
            let size = try c.u16()
            return .compact(try c.bytes(size))
        case 1:
            let address = try c.offset()
            return .contiguous(address, size: try c.length())
        case 2:
            let dimensionality = Int(try c.u8())
            guard dimensionality == rank + 1 else { throw ReadFault("has chunks of rank \(dimensionality - 1) for data of rank \(rank)") }
            let address = try c.offset()
            var chunk: [Int] = []
            for _ in 0..<dimensionality { chunk.append(try c.u32()) }
            return .chunked(.btree1(address), chunk: try checkedChunk(chunk, elementBytes))
        case 3:
            throw ReadFault("is a virtual dataset (mapped from other files), which facec does not read")
        default:
            throw ReadFault("has an unknown storage layout")
        }
    }

    /// The chunk shape without its trailing element size, checked.
    private static func checkedChunk(_ dims: [Int], _ elementBytes: Int) throws -> [Int] {
        var chunk = dims
        guard chunk.last == elementBytes else { throw ReadFault("has chunks of \(chunk.last ?? 0)-byte elements for \(elementBytes)-byte data") }
        chunk.removeLast()
        guard chunk.allSatisfy({ $0 > 0 }) else { throw ReadFault("has an empty chunk dimension") }
        let (bytes, overflow) = chunk.reduce((elementBytes, false)) { a, d in
            let (r, o) = a.0.multipliedReportingOverflow(by: d)
            return (r, a.1 || o)
        }
        guard !overflow, bytes <= 1 << 30 else { throw ReadFault("has chunks of more than 1 GB") }
        return chunk
    }

    /// Layout version 4 (libver='latest'): chunk dimensions of a declared
    /// width, then the chunk index: a single chunk, implicit (unfiltered,
    /// all allocated), a fixed array or the v1 B-tree's successors.
    private static func chunkedV4(_ c: inout H5Cursor, rank: Int, elementBytes: Int) throws -> Storage {
        let flags = try c.u8()
        let dimensionality = Int(try c.u8()), width = Int(try c.u8())
        guard dimensionality == rank + 1, (1...8).contains(width) else { throw ReadFault("has chunks of rank \(dimensionality - 1) for data of rank \(rank)") }
        var dims: [Int] = []
        for _ in 0..<dimensionality {
            let v = try c.uint(width)
            guard v <= 1 << 30 else { throw ReadFault("has a chunk dimension of \(v)") }
            dims.append(Int(v))
        }
        let chunk = try checkedChunk(dims, elementBytes)
        guard flags & 1 == 0 else { throw ReadFault("leaves its partial edge chunks unfiltered, which facec does not read") }
        let index: H5ChunkIndex
        switch try c.u8() {
        case 1:
            var size: Int?, mask: UInt32 = 0
            if flags & 2 != 0 { size = try c.length(); mask = UInt32(try c.u32()) }
            index = .single(try c.offset(), filteredSize: size, mask: mask)
        case 2: index = .implicit(try c.offset())
        case 3:
            try c.skip(1)
            index = .fixedArray(try c.offset())
        case 4: throw ReadFault("indexes its chunks with an extensible array, which facec does not read")
        case 5: throw ReadFault("indexes its chunks with a version 2 B-tree, which facec does not read")
        default: throw ReadFault("has an unknown chunk index")
        }
        return .chunked(index, chunk: chunk)
    }

    /// Reads every element as stored (C order, the file's byte order) into
    /// `destination` of `byteCount` bytes; chunked data is placed element
    /// (i0, i1, …) at Σ i_k · strides[k] elements when strides are given.
    package func read(into destination: UnsafeMutableRawPointer, strides: [Int]? = nil, parallelMinimum: Int = H5Chunks.parallelMinimum) throws {
        if count == 0 { return }
        guard byteCount <= Self.maxBytes else { throw ReadFault("is too large to read (\(byteCount) bytes)") }
        switch storage {
        case .compact(let range):
            guard filters.isEmpty, range.count == byteCount else {
                throw ReadFault("declares \(shape) elements (\(byteCount) bytes) but stores \(range.count) bytes (damaged file?)")
            }
            try place(UnsafeRawBufferPointer(rebasing: file.bytes[range]), into: destination, strides: strides)
        case .contiguous(let address, let size):
            guard let address, size == byteCount else {
                throw ReadFault("declares \(shape) elements (\(byteCount) bytes) but stores \(address == nil ? 0 : size) bytes (damaged file?)")
            }
            guard filters.isEmpty else { throw ReadFault("has filters on contiguous storage") }
            let range = try file.range(at: address, count: size)
            try place(UnsafeRawBufferPointer(rebasing: file.bytes[range]), into: destination, strides: strides)
            H5File.release(range, of: file.bytes)
        case .chunked(let index, let chunk):
            let chunks = try H5Chunks(self, index: index, chunk: chunk)
            try chunks.read(into: destination, strides: strides ?? Self.cOrder(dims), parallel: byteCount >= parallelMinimum)
        }
    }

    /// Contiguous bytes into place: a plain copy, or element by element
    /// through the same placement as chunks.
    private func place(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer, strides: [Int]?) throws {
        guard let strides, strides != Self.cOrder(dims) else {
            destination.copyMemory(from: source.baseAddress!, byteCount: byteCount)
            return
        }
        H5Chunks.copyInside(offset: dims.map { _ in 0 }, chunk: dims, extent: dims, elementBytes: elementBytes,
                            from: source, into: destination, strides: strides)
    }

    static func cOrder(_ dims: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        for axis in stride(from: dims.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * dims[axis + 1] }
        return strides
    }

    /// All bytes as stored, in C order.
    func bytes() throws -> [UInt8] {
        guard byteCount <= Self.maxBytes else { throw ReadFault("is too large to read (\(byteCount) bytes)") }
        return try [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            if byteCount > 0 { try read(into: buffer.baseAddress!) }
            initialized = byteCount
        }
    }

    /// The values as Double (integers and floats of any size and order).
    package func doubles() throws -> [Double] {
        let raw = try bytes()
        return try raw.withUnsafeBytes { try H5Convert.doubles($0, type, count: count) }
    }

    /// The values as Float: float32 little-endian data read straight into
    /// the result; anything else converted through Double.
    package func floats() throws -> [Float] {
        if case .float(4, false) = type {
            guard byteCount <= Self.maxBytes else { throw ReadFault("is too large to read (\(byteCount) bytes)") }
            return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 { try read(into: buffer.baseAddress!) }
                initialized = count
            }
        }
        return try doubles().map { Float($0) }
    }

    /// Integer values (unsigned 64-bit values above Int64.max refused).
    package func integers() throws -> [Int64] {
        let raw = try bytes()
        return try raw.withUnsafeBytes { try H5Convert.integers($0, type, count: count) }
    }

    /// Object references: the addresses of the objects' headers.
    package func references() throws -> [UInt64] {
        guard type.isObjectReference, type.size == file.offsetSize else { throw ReadFault("is not a dataset of object references") }
        let raw = try bytes()
        return (0..<count).map { i in
            var v: UInt64 = 0
            for k in 0..<type.size { v |= UInt64(raw[i * type.size + k]) << (8 * k) }
            return v
        }
    }
}

/// One filter of a dataset's pipeline.
struct H5Filter: Equatable {
    let id: Int
    let optional: Bool

    static let deflate = 1, shuffle = 2, fletcher32 = 3

    static func pipeline(_ cursor: H5Cursor) throws -> [H5Filter] {
        var c = cursor
        let version = try c.u8(), count = Int(try c.u8())
        guard version == 1 || version == 2 else { throw ReadFault("has a filter pipeline of unknown version") }
        guard count <= 32 else { throw ReadFault("has \(count) filters") }
        if version == 1 { try c.skip(6) }
        var filters: [H5Filter] = []
        for _ in 0..<count {
            let id = try c.u16()
            let nameLength = version == 1 || id >= 256 ? try c.u16() : 0
            let flags = try c.u16(), values = try c.u16()
            try c.skip(version == 1 ? (nameLength + 7) & ~7 : nameLength)
            try c.skip(4 * values + (version == 1 && values % 2 == 1 ? 4 : 0))
            guard [deflate, shuffle, fletcher32].contains(id) else {
                throw ReadFault("is compressed with HDF5 filter \(id), which facec does not read (deflate, shuffle and Fletcher-32 only)")
            }
            filters.append(H5Filter(id: id, optional: flags & 1 != 0))
        }
        return filters
    }
}

/// Conversions from stored numbers (any size and byte order).
enum H5Convert {
    package static func integers(_ raw: UnsafeRawBufferPointer, _ type: H5Datatype, count: Int) throws -> [Int64] {
        guard case .integer(let size, let signed, let big) = type, raw.count >= count * size else { throw ReadFault("does not hold integers") }
        return try (0..<count).map { i in
            var v: UInt64 = 0
            for k in 0..<size { v |= UInt64(raw[i * size + (big ? size - 1 - k : k)]) << (8 * k) }
            if signed, size < 8, v & (1 << (8 * size - 1)) != 0 { v |= ~0 << (8 * size) }
            guard signed || size < 8 || v <= UInt64(Int64.max) else { throw ReadFault("holds an integer above 2^63") }
            return Int64(bitPattern: v)
        }
    }

    package static func doubles(_ raw: UnsafeRawBufferPointer, _ type: H5Datatype, count: Int) throws -> [Double] {
        switch type {
        case .float(let size, let big):
            guard raw.count >= count * size else { throw ReadFault("holds less data than its shape needs") }
            return (0..<count).map { i in
                var v: UInt64 = 0
                for k in 0..<size { v |= UInt64(raw[i * size + (big ? size - 1 - k : k)]) << (8 * k) }
                return size == 4 ? Double(Float(bitPattern: UInt32(v))) : Double(bitPattern: v)
            }
        case .integer(let size, let signed, let big):
            guard raw.count >= count * size else { throw ReadFault("holds less data than its shape needs") }
            return (0..<count).map { i in
                var v: UInt64 = 0
                for k in 0..<size { v |= UInt64(raw[i * size + (big ? size - 1 - k : k)]) << (8 * k) }
                if signed, size < 8, v & (1 << (8 * size - 1)) != 0 { v |= ~0 << (8 * size) }
                return signed ? Double(Int64(bitPattern: v)) : Double(v)
            }
        default:
            throw ReadFault("does not hold numbers")
        }
    }
}
