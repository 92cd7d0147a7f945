import CDeflate
import FacecCore
#if canImport(Glibc)
import Glibc
#endif

/// A chunked dataset's chunks, found through its v1 B-tree and checked (each
/// inside the extent, on the chunk grid, once; all present), then inflated,
/// unshuffled and placed. Large datasets (MATLAB's v7.3 filters: deflate,
/// often behind shuffle) are inflated on all cores by libdeflate straight
/// from the mapped file.
package struct H5Chunks {
    private let extent: [Int]
    private let chunk: [Int]
    private let elementBytes: Int
    private let filters: [H5Filter]
    private let chunks: [Stored]
    private let bytes: UnsafeRawBufferPointer

    /// Datasets smaller than this are read on the calling thread (see
    /// `MatV73File.parallelReadMinimum`).
    package static let parallelMinimum = 4 << 20
    static let workers = systemCoreCount()
    /// deflate cannot expand data more than ~1032 times: a chunk whose
    /// stored bytes could not inflate to its size is refused before any
    /// buffer is allocated for it.
    static let maxInflation = 1100

    struct Stored {
        var offset: [Int]
        var range: Range<Int>
        var mask: UInt32
    }

    init(_ dataset: H5Dataset, index: H5ChunkIndex, chunk: [Int]) throws {
        extent = dataset.dims
        self.chunk = chunk
        elementBytes = dataset.elementBytes
        filters = dataset.filters
        bytes = dataset.file.bytes
        let chunkBytes = chunk.reduce(elementBytes, *)
        var expected = 1
        for (d, c) in zip(extent, chunk) {
            let (r, o) = expected.multipliedReportingOverflow(by: (d + c - 1) / c)
            guard !o, r <= 1 << 24 else { throw ReadFault("is split into too many chunks") }
            expected = r
        }
        let grid = zip(extent, chunk).map { ($0 + $1 - 1) / $1 }
        let found = try index.chunks(dataset.file, rank: extent.count, grid: grid, chunk: chunk, chunkBytes: chunkBytes,
                                     filtered: !filters.isEmpty, limit: expected)
        let described = "\(extent.map(String.init).joined(separator: "×")) elements"
        guard found.count == expected else {
            throw ReadFault("declares \(described) but stores \(found.count) of the \(expected) chunks they need (damaged file?)")
        }
        var seen = Set<[Int]>()
        let filtered = !filters.isEmpty
        for c in found {
            guard zip(c.offset, zip(chunk, extent)).allSatisfy({ $0 >= 0 && $0 % $1.0 == 0 && $0 < $1.1 }) else {
                throw ReadFault("has a chunk at \(c.offset), outside its \(described) (damaged file?)")
            }
            guard seen.insert(c.offset).inserted else { throw ReadFault("stores its chunk at \(c.offset) twice (damaged file?)") }
            let fits = filtered ? c.range.count <= 2 * chunkBytes + 4096 && c.range.count * Self.maxInflation + 64 >= chunkBytes
                                : c.range.count == chunkBytes
            guard fits else { throw ReadFault("has a chunk at \(c.offset) of \(c.range.count) bytes, which cannot hold its \(chunkBytes) (damaged file?)") }
        }
        chunks = found
    }

    /// Reads the whole dataset (as stored) into `destination`: element
    /// (i0, i1, …) at Σ i_k · strides[k] elements.
    package func read(into destination: UnsafeMutableRawPointer, strides: [Int], parallel: Bool) throws {
        let elements = extent.reduce(1, *)
        // Every placement stays inside the destination.
        precondition(strides.count == extent.count && zip(extent, strides).reduce(0) { $0 + ($1.0 - 1) * $1.1 } < elements,
                     "placement of \(extent) with strides \(strides) exceeds \(elements) elements")
        let chunkBytes = chunk.reduce(elementBytes, *)
        let failures = FailureList()
        let workers = parallel ? min(chunks.count, Self.workers) : 1
        // Contiguous shares: neighbouring chunks (next along the last axis)
        // fill the same destination cache lines.
        let run = { (w: Int) in
            guard let inflater = libdeflate_alloc_decompressor() else { return failures.add("cannot allocate a decompressor") }
            defer { libdeflate_free_decompressor(inflater) }
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * chunkBytes, alignment: 64)
            defer { scratch.deallocate() }
            for i in (chunks.count * w / workers)..<(chunks.count * (w + 1) / workers) {
                if let message = place(chunks[i], into: destination, strides: strides, inflater: inflater, scratch: scratch) {
                    return failures.add(message)
                }
            }
        }
        Threads.parallelFor(iterations: workers, threads: workers, run)
        if let first = failures.first { throw ReadFault(first) }
    }

    /// Undoes the filters of one chunk in reverse pipeline order (those its
    /// mask marks as skipped excepted), then copies its part inside the
    /// extent; nil or a reason. `scratch` holds two chunks.
    private func place(_ item: Stored, into destination: UnsafeMutableRawPointer, strides: [Int],
                       inflater: OpaquePointer, scratch: UnsafeMutableRawBufferPointer) -> String? {
        let chunkBytes = scratch.count / 2
        var data = UnsafeRawBufferPointer(rebasing: bytes[item.range])
        var spare = 0   // which half of the scratch is free
        for (i, filter) in filters.enumerated().reversed() where item.mask & (1 << i) == 0 {
            let out = UnsafeMutableRawBufferPointer(rebasing: scratch[(spare * chunkBytes)..<((spare + 1) * chunkBytes)])
            switch filter.id {
            case H5Filter.deflate:
                var produced = 0
                let status = libdeflate_zlib_decompress(inflater, data.baseAddress, data.count, out.baseAddress, chunkBytes, &produced)
                guard status == LIBDEFLATE_SUCCESS, produced == chunkBytes else {
                    return "has a chunk at \(item.offset) that does not inflate to its \(chunkBytes) bytes (damaged file?)"
                }
                data = UnsafeRawBufferPointer(out)
            case H5Filter.shuffle:
                // Byte k of every element is stored together; leftover bytes
                // at the end are stored as they are.
                guard data.count == chunkBytes else { return "has a chunk at \(item.offset) of the wrong size to unshuffle" }
                let n = chunkBytes / elementBytes
                for k in 0..<elementBytes {
                    for e in 0..<n { out[e * elementBytes + k] = data[k * n + e] }
                }
                for b in (n * elementBytes)..<chunkBytes { out[b] = data[b] }
                data = UnsafeRawBufferPointer(out)
            default:
                // Fletcher-32: a 4-byte checksum after the data.
                guard data.count >= 4 else { return "has a chunk at \(item.offset) too short for its checksum" }
                data = UnsafeRawBufferPointer(rebasing: data[..<(data.count - 4)])
                continue
            }
            spare = 1 - spare
        }
        guard data.count == chunkBytes else {
            return "has a chunk at \(item.offset) of \(data.count) bytes, expected \(chunkBytes)"
        }
        Self.copyInside(offset: item.offset, chunk: chunk, extent: extent, elementBytes: elementBytes,
                        from: data, into: destination, strides: strides)
        H5File.release(item.range, of: bytes)
        return nil
    }

    /// Copies the part of a chunk at `offset` that lies inside the extent to
    /// its place under `dstStride`. Axes along which the chunk is one element
    /// thick only move the start; the remaining axes loop with the smallest
    /// destination stride innermost (one memcpy where both sides are
    /// contiguous), so a transposing placement writes whole rows.
    static func copyInside(offset: [Int], chunk: [Int], extent: [Int], elementBytes: Int, from data: UnsafeRawBufferPointer,
                           into destination: UnsafeMutableRawPointer, strides dstStride: [Int]) {
        let rank = extent.count
        var srcStride = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { srcStride[axis] = srcStride[axis + 1] * chunk[axis + 1] }
        var dstStart = 0
        var loops: [(count: Int, src: Int, dst: Int)] = []
        for axis in 0..<rank {
            dstStart += offset[axis] * dstStride[axis]
            let valid = min(chunk[axis], extent[axis] - offset[axis])
            if valid > 1 { loops.append((valid, srcStride[axis], dstStride[axis])) }
        }
        loops.sort { $0.dst > $1.dst }
        let src = data.baseAddress!, dst = destination + dstStart * elementBytes
        guard let inner = loops.popLast() else {
            dst.copyMemory(from: src, byteCount: elementBytes)
            return
        }
        var index = [Int](repeating: 0, count: loops.count)
        while true {
            var s = 0, d = 0
            for (k, loop) in loops.enumerated() { s += index[k] * loop.src; d += index[k] * loop.dst }
            copyRun(from: src + s * elementBytes, into: dst + d * elementBytes, inner, elementBytes)
            var k = loops.count - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < loops[k].count { break }
                index[k] = 0
                k -= 1
            }
            if k < 0 { return }
        }
    }

    private static func copyRun(from src: UnsafeRawPointer, into dst: UnsafeMutableRawPointer, _ run: (count: Int, src: Int, dst: Int),
                                _ elementBytes: Int) {
        if run.src == 1 && run.dst == 1 {
            dst.copyMemory(from: src, byteCount: run.count * elementBytes)
            return
        }
        func strided<T>(_: T.Type) {
            let s = src.assumingMemoryBound(to: T.self), d = dst.assumingMemoryBound(to: T.self)
            for i in 0..<run.count { d[i * run.dst] = s[i * run.src] }
        }
        switch elementBytes {
        case 4: strided(UInt32.self)
        case 8: strided(UInt64.self)
        case 2: strided(UInt16.self)
        case 1: strided(UInt8.self)
        default:
            for i in 0..<run.count {
                (dst + i * run.dst * elementBytes).copyMemory(from: src + i * run.src * elementBytes, byteCount: elementBytes)
            }
        }
    }
}

/// Reasons collected from parallel workers.
private final class FailureList: @unchecked Sendable {
    private let lock = Condition()
    private var messages: [String] = []
    func add(_ message: String) {
        lock.lock()
        messages.append(message)
        lock.unlock()
    }
    var first: String? {
        lock.lock()
        defer { lock.unlock() }
        return messages.first
    }
}

/// Where a chunked dataset's chunks are listed.
package enum H5ChunkIndex {
    /// A version 1 B-tree (layout version 3; nil: nothing written).
    case btree1(UInt64?)
    /// One chunk holding the whole dataset.
    case single(UInt64?, filteredSize: Int?, mask: UInt32)
    /// Unfiltered chunks, all allocated, one after another in grid order.
    case implicit(UInt64?)
    /// A fixed array of chunk addresses in grid order.
    case fixedArray(UInt64?)

    /// The stored chunks: offsets (elements), bytes in the file and filter masks.
    func chunks(_ file: H5File, rank: Int, grid: [Int], chunk: [Int], chunkBytes: Int, filtered: Bool, limit: Int) throws -> [H5Chunks.Stored] {
        /// The element offset of chunk `linear` in row-major grid order.
        func offset(_ linear: Int) -> [Int] {
            var rest = linear, result = [Int](repeating: 0, count: rank)
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                result[axis] = (rest % grid[axis]) * chunk[axis]
                rest /= grid[axis]
            }
            return result
        }
        switch self {
        case .btree1(let address):
            // Keys: the chunk's stored size, filter mask and offset (rank + 1
            // values, the last 0).
            var found: [H5Chunks.Stored] = []
            guard let address else { return [] }
            try H5BTree1.walk(file, address, type: 1, keyBytes: 8 + 8 * (rank + 1), what: "chunk index") { key, child in
                var c = H5Cursor(bytes: file.bytes, position: key.lowerBound, end: key.upperBound, offsetSize: 8, lengthSize: 8)
                let size = try c.u32(), mask = UInt32(try c.u32())
                let offset = try (0..<rank).map { _ in
                    let v = try c.uint(8)
                    guard v <= UInt64(Int32.max) * 16 else { throw ReadFault("has a chunk offset of \(v)") }
                    return Int(v)
                }
                guard found.count < limit else { throw ReadFault("stores more chunks than its shape needs (damaged file?)") }
                found.append(H5Chunks.Stored(offset: offset, range: try file.range(at: child, count: size), mask: mask))
            }
            return found
        case .single(let address, let size, let mask):
            guard let address else { return [] }
            return [H5Chunks.Stored(offset: offset(0), range: try file.range(at: address, count: size ?? chunkBytes), mask: mask)]
        case .implicit(let address):
            guard let address, !filtered else { return [] }
            let (total, overflow) = chunkBytes.multipliedReportingOverflow(by: limit)
            guard !overflow else { throw ReadFault("declares more chunk data than memory") }
            let all = try file.range(at: address, count: total)
            return (0..<limit).map { H5Chunks.Stored(offset: offset($0), range: (all.lowerBound + $0 * chunkBytes)..<(all.lowerBound + ($0 + 1) * chunkBytes), mask: 0) }
        case .fixedArray(let address):
            guard let address else { return [] }
            var c = try file.cursor(at: address)
            guard c.signature("FAHD") else { throw ReadFault("has a damaged chunk index (fixed array)") }
            try c.skip(5)
            let client = try c.u8(), entrySize = Int(try c.u8()), pageBits = Int(try c.u8())
            let entries = try c.length()
            guard let block = try c.offset() else { return [] }
            guard entries == limit else { throw ReadFault("lists \(entries) chunks where its shape needs \(limit) (damaged file?)") }
            guard pageBits >= 64 || entries <= 1 << pageBits else { throw ReadFault("pages its chunk index, which facec does not read") }
            let sizeBytes = entrySize - file.offsetSize - 4
            guard client == (filtered ? 1 : 0), filtered ? (1...8).contains(sizeBytes) : entrySize == file.offsetSize else {
                throw ReadFault("has a damaged chunk index (fixed array entries)")
            }
            try file.spend(entries)
            var d = try file.cursor(at: block)
            guard d.signature("FADB") else { throw ReadFault("has a damaged chunk index (fixed array block)") }
            try d.skip(6)
            _ = try d.offset()
            var found: [H5Chunks.Stored] = []
            for i in 0..<entries {
                let at = try d.offset()
                let size = filtered ? try d.int(sizeBytes, max: 1 << 31) : chunkBytes
                let mask = filtered ? UInt32(try d.u32()) : 0
                guard let at else { continue }   // never written
                found.append(H5Chunks.Stored(offset: offset(i), range: try file.range(at: at, count: size), mask: mask))
            }
            return found
        }
    }
}
