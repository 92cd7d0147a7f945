import CDeflate
import CHDF5
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Reads a chunked, deflate-compressed dataset (MATLAB's v7.3 default, also
/// with HDF5's shuffle filter in front) with its chunks inflated on all cores
/// by libdeflate, instead of HDF5's one-thread zlib path (VGG-Face's 540 MB
/// of weights spent ~1.7 s there). HDF5 itself is called from this thread
/// only (serial HDF5 is not thread-safe): it fetches each chunk's compressed
/// bytes (H5Dread_chunk); workers inflate, unshuffle and place them.
struct HDF5ParallelChunks {
    private let dataset: hid_t
    private let extent: [Int]
    private let chunk: [Int]
    private let elementBytes: Int
    /// The filters in pipeline order (deflate last, shuffle optionally first).
    private let shuffled: Bool

    /// Datasets smaller than this take HDF5's own path (see
    /// `MatV73File.parallelReadMinimum`).
    static let minimumBytes = 4 << 20
    /// Compressed bytes fetched per batch of chunks inflated in parallel.
    static let batchBytes = 64 << 20
    static let workers = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// nil when the dataset is not one this path reads (not chunked, other
    /// filters, or small): the caller uses H5Dread.
    init?(_ dataset: hid_t, elementBytes: Int, minimumBytes: Int = Self.minimumBytes) {
        let space = H5Dget_space(dataset)
        guard space >= 0 else { return nil }
        let stored = try? HDF5.extent(space)
        H5Sclose(space)
        guard let stored, stored.allSatisfy({ $0 <= UInt64(Int32.max) }) else { return nil }
        let extent = stored.map { Int($0) }
        let dcpl = H5Dget_create_plist(dataset)
        guard dcpl >= 0 else { return nil }
        defer { H5Pclose(dcpl) }
        let rank = extent.count
        guard H5Pget_layout(dcpl) == H5D_CHUNKED, rank > 0, rank <= 32,
              extent.reduce(elementBytes, *) >= minimumBytes else { return nil }
        var dims = [hsize_t](repeating: 0, count: rank)
        guard H5Pget_chunk(dcpl, Int32(rank), &dims) == Int32(rank), dims.allSatisfy({ $0 > 0 && $0 <= 1 << 30 }) else { return nil }
        var filters: [H5Z_filter_t] = []
        for i in 0..<max(0, H5Pget_nfilters(dcpl)) {
            var flags: UInt32 = 0, count = 0
            filters.append(H5Pget_filter2(dcpl, UInt32(i), &flags, &count, nil, 0, nil, nil))
        }
        switch filters {
        case [H5Z_FILTER_DEFLATE]: shuffled = false
        case [H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE]: shuffled = true
        default: return nil
        }
        let chunkElements = dims.reduce(1) { $0 * Int($1) }
        guard chunkElements.multipliedReportingOverflow(by: elementBytes).partialValue <= 1 << 30 else { return nil }
        self.dataset = dataset
        self.extent = extent
        self.chunk = dims.map { Int($0) }
        self.elementBytes = elementBytes
    }

    private struct Fetched {
        var offset: [Int]
        var range: Range<Int>
        var mask: UInt32
    }

    /// The dataset's dimensions (HDF5 order).
    var dims: [Int] { extent }

    /// Reads the whole dataset (as stored: the caller checked that its type
    /// needs no conversion) into `destination`: element (i0, i1, …) at
    /// Σ i_k · strides[k] elements; C order of the extent when nil.
    func read(into destination: UnsafeMutableRawPointer, elements: Int, strides given: [Int]? = nil) throws {
        let rank = extent.count
        var strides = given ?? []
        if given == nil {
            strides = [Int](repeating: 1, count: rank)
            for axis in stride(from: rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * extent[axis + 1] }
        }
        // Every placement stays inside the destination.
        precondition(strides.count == rank && zip(extent, strides).reduce(0) { $0 + ($1.0 - 1) * $1.1 } < elements,
                     "placement of \(extent) with strides \(strides) exceeds \(elements) elements")
        let chunkBytes = chunk.reduce(elementBytes, *)
        let grid = zip(extent, chunk).map { ($0 + $1 - 1) / $1 }
        var position = [Int](repeating: 0, count: rank)   // chunk index, odometer
        var done = grid.contains(0)
        var compressed = [UInt8]()
        while !done {
            // Fetch a batch of compressed chunks (HDF5 calls, this thread).
            var batch: [Fetched] = []
            compressed.removeAll(keepingCapacity: true)
            while !done && (batch.isEmpty || compressed.count < Self.batchBytes) {
                let offset = zip(position, chunk).map { $0 * $1 }
                let hOffset = offset.map { hsize_t($0) }
                var size: hsize_t = 0
                guard H5Dget_chunk_storage_size(dataset, hOffset, &size) >= 0, size > 0 else {
                    throw ReadFault("is missing its chunk at \(offset) (damaged file?)\(HDF5.lastError())")
                }
                guard size <= UInt64(2 * chunkBytes + 4096) else { throw ReadFault("has a chunk at \(offset) larger than its data could compress to") }
                let start = compressed.count
                compressed.append(contentsOf: repeatElement(0, count: Int(size)))
                var mask: UInt32 = 0
                let status = compressed.withUnsafeMutableBytes {
                    H5Dread_chunk(dataset, facec_H5P_DEFAULT(), hOffset, &mask, $0.baseAddress! + start)
                }
                guard status >= 0 else { throw ReadFault("cannot read its chunk at \(offset)\(HDF5.lastError())") }
                batch.append(Fetched(offset: offset, range: start..<compressed.count, mask: mask))
                // Next chunk index (last axis fastest).
                var axis = rank - 1
                while axis >= 0 {
                    position[axis] += 1
                    if position[axis] < grid[axis] { break }
                    position[axis] = 0
                    axis -= 1
                }
                done = axis < 0
            }
            // Inflate and place them on all cores, each worker with its own
            // decompressor and scratch, reused across its chunks.
            let failures = FailureList()
            let workers = min(batch.count, Self.workers)
            compressed.withUnsafeBytes { source in
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    guard let inflater = libdeflate_alloc_decompressor() else { return failures.add("cannot allocate a decompressor") }
                    defer { libdeflate_free_decompressor(inflater) }
                    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * chunkBytes, alignment: 64)
                    defer { scratch.deallocate() }
                    // Contiguous shares: neighbouring chunks (next along the
                    // last axis) fill the same destination cache lines.
                    for i in (batch.count * w / workers)..<(batch.count * (w + 1) / workers) {
                        if let message = place(batch[i], from: source, into: destination, strides: strides, inflater: inflater, scratch: scratch) {
                            return failures.add(message)
                        }
                    }
                }
            }
            if let first = failures.first { throw ReadFault(first) }
        }
    }

    /// Inflates one chunk (unless its mask says deflate was skipped),
    /// unshuffles it and copies its part inside the extent; nil or a reason.
    /// `scratch` holds two chunks.
    private func place(_ item: Fetched, from source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer,
                       strides: [Int], inflater: OpaquePointer, scratch: UnsafeMutableRawBufferPointer) -> String? {
        let chunkBytes = scratch.count / 2
        let input = UnsafeRawBufferPointer(rebasing: source[item.range])
        let plain = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunkBytes])
        if item.mask & (1 << (shuffled ? 1 : 0)) != 0 {   // deflate skipped for this chunk
            guard input.count == chunkBytes else { return "has a chunk at \(item.offset) of \(input.count) bytes, expected \(chunkBytes)" }
            plain.copyMemory(from: input)
        } else {
            var produced = 0
            let status = libdeflate_zlib_decompress(inflater, input.baseAddress, input.count, plain.baseAddress, chunkBytes, &produced)
            guard status == LIBDEFLATE_SUCCESS, produced == chunkBytes else {
                return "has a chunk at \(item.offset) that does not inflate to its \(chunkBytes) bytes (damaged file?)"
            }
        }
        var data = UnsafeRawBufferPointer(plain)
        if shuffled && item.mask & 1 == 0 && elementBytes > 1 {
            // HDF5's shuffle stores byte k of every element together;
            // leftover bytes at the end are stored as they are.
            let out = UnsafeMutableRawBufferPointer(rebasing: scratch[chunkBytes...])
            let n = chunkBytes / elementBytes
            for k in 0..<elementBytes {
                for e in 0..<n { out[e * elementBytes + k] = plain[k * n + e] }
            }
            for b in (n * elementBytes)..<chunkBytes { out[b] = plain[b] }
            data = UnsafeRawBufferPointer(out)
        }
        copyInside(item.offset, from: data, into: destination, strides: strides)
        return nil
    }

    /// Copies the part of a chunk at `offset` that lies inside the extent to
    /// its place under `dstStride`. Axes along which the chunk is one element
    /// thick only move the start; the remaining axes loop with the smallest
    /// destination stride innermost (one memcpy where both sides are
    /// contiguous), so a transposing placement writes whole rows.
    private func copyInside(_ offset: [Int], from data: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer,
                            strides dstStride: [Int]) {
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
            copyRun(from: src + s * elementBytes, into: dst + d * elementBytes, inner)
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

    private func copyRun(from src: UnsafeRawPointer, into dst: UnsafeMutableRawPointer, _ run: (count: Int, src: Int, dst: Int)) {
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
    private var lock = pthread_mutex_t()
    private var messages: [String] = []
    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }
    func add(_ message: String) {
        pthread_mutex_lock(&lock)
        messages.append(message)
        pthread_mutex_unlock(&lock)
    }
    var first: String? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return messages.first
    }
}
