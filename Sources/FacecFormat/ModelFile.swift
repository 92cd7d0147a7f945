import CChecksum
import FacecCore
#if canImport(Glibc)
import Glibc
#endif

/// A .fgraph file read into this process's own memory.
///
/// Why not a mapping of the file: the usual deploy, `cp new.fgraph
/// live.fgraph`, rewrites the file in place. A mapped file that shrinks
/// kills its readers with SIGBUS, and one that does not changes the weights
/// under a running network without any check (a private mapping does not
/// help: its pages still show the file until written to). Read once, the
/// model stays what was validated for as long as it is open, whatever
/// happens to the file. The cost is one copy per process instead of pages
/// shared between processes; the read is one pass that also computes the
/// data checksum, which was a full pass anyway.
///
/// `init` validates everything before anything is used: preamble checksum,
/// version and reserved fields, every offset and length against the file size
/// (overflow-checked), the header checksum, the header's own structure
/// (`HeaderDecoding`), the data checksum, and that every float tensor is
/// finite. Kernel-level shape rules are checked by the runtime.
public final class ModelFile: @unchecked Sendable {
    public let path: String
    public let preamble: Preamble
    public let header: ModelHeader
    public let fileSize: Int
    /// The data section (anonymous memory; empty when not read).
    private let data: UnsafeRawBufferPointer
    /// The same memory, for munmap (nil when not read).
    private let mapping: UnsafeMutableRawBufferPointer?

    /// - Parameter readData: read (and check) the data section. `inspect` and
    ///   `detect` need the header alone.
    public init(path: String, readData: Bool = true) throws {
        self.path = path
        let (fd, size): (Int32, Int)
        switch InputFile.open(path) {
        case .success(let file): (fd, size) = file
        case .failure(let problem): throw FacecError(.io, path, problem.reason)
        }
        defer { close(fd) }
        guard size >= Preamble.size else {
            throw FacecError(.model, path, size == 0 ? "empty file, not a facec model"
                              : "truncated or not a facec model: \(size) bytes, shorter than the \(Preamble.size)-byte preamble")
        }
        let head = try Self.read(fd, at: 0, count: Preamble.size, path: path)
        let p = try head.withUnsafeBytes { try Preamble.decode($0, path: path) }
        let layout = try Self.checkLayout(p, fileSize: size, path: path)
        let headerBytes = try Self.read(fd, at: layout.header.lowerBound, count: layout.header.count, path: path)
        guard headerBytes.withUnsafeBytes({ crc32c($0) }) == p.headerCRC else {
            throw FacecError(.model, path, "damaged model file: header checksum mismatch")
        }
        let header = try headerBytes.withUnsafeBytes { try HeaderDecoding.decode($0, dataLength: layout.data.count, path: path) }
        self.preamble = p
        self.header = header
        self.fileSize = size
        guard readData, !layout.data.isEmpty else {
            data = UnsafeRawBufferPointer(start: nil, count: 0)
            mapping = nil
            return
        }
        let length = layout.data.count
        let memory = try Self.allocate(length, path: path)
        do {
            try Self.readData(fd, from: layout.data.lowerBound, into: memory, header: header, crc: p.dataCRC, path: path)
        } catch {
            munmap(memory.baseAddress, memory.count)
            throw error
        }
        data = UnsafeRawBufferPointer(memory)
        mapping = memory
    }

    deinit { if let m = mapping { munmap(m.baseAddress, m.count) } }

    /// Anonymous memory for `length` bytes (so that `releasePages` can hand
    /// pages back to the system).
    private static func allocate(_ length: Int, path: String) throws -> UnsafeMutableRawBufferPointer {
        guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            throw FacecError(.io, path, "cannot allocate \(length) bytes for the model's data: \(systemMessage(errno))")
        }
        return UnsafeMutableRawBufferPointer(start: base, count: length)
    }

    /// The float32 contents of tensor `index`. The header decoder has checked
    /// that it lies inside the data section and matches its shape.
    public func tensor(_ index: Int) -> UnsafeBufferPointer<Float> {
        let t = header.tensors[index]
        precondition(t.elementType == .f32, "tensor \(t.name) is \(t.elementType.rawValue), not float32")
        return tensorBytes(index).assumingMemoryBound(to: Float.self)
    }

    /// The stored bytes of tensor `index`, whatever its element type
    /// (`length` bytes, checked against the data section like `tensor(_:)`).
    public func tensorBytes(_ index: Int) -> UnsafeRawBufferPointer {
        let t = header.tensors[index]
        precondition(data.baseAddress != nil, "\(path): the data section was not read")
        return UnsafeRawBufferPointer(rebasing: data[t.offset..<(t.offset + t.length)])
    }

    /// Hands tensor `index`'s whole pages back to the system (the runtime
    /// keeps its own re-laid copy): they leave this process's memory and read
    /// as zeros from then on, so nothing may read the tensor afterwards.
    public func releasePages(ofTensor index: Int) {
        let bytes = tensorBytes(index)
        let page = systemPageSize()
        guard page > 0, let start = bytes.baseAddress else { return }
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + bytes.count) / page * page
        guard end > first, let p = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(p, end - first, MADV_DONTNEED)
    }

    private static func read(_ fd: Int32, at offset: Int, count: Int, path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readFully(fd, at: offset, into: $0, path: path) }
        return bytes
    }

    private static func readFully(_ fd: Int32, at offset: Int, into buffer: UnsafeMutableRawBufferPointer, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FacecError(.io, path, "read error: \(systemMessage(errno))") }
            guard n > 0 else { throw FacecError(.model, path, "truncated while being read (the file changed: was it being replaced in place?)") }
            done += n
        }
    }

    /// Reads the data section in 4 MB slices, on several threads for large
    /// models: filling fresh pages is most of a load's time, and it scales
    /// with cores (757 MB: 0.25 s on one, 0.13 s on two). Each slice is
    /// checksummed, and the float tensors in it checked finite, while it is
    /// still in cache; the slices' CRCs are combined in order. Weights,
    /// biases and scales must be finite numbers: a NaN or an infinity would
    /// only come out as an embedding of NaNs.
    private static func readData(_ fd: Int32, from offset: Int, into buffer: UnsafeMutableRawBufferPointer, header: ModelHeader,
                                 crc expected: UInt32, path: String) throws {
        let slice = 4 << 20
        let count = (buffer.count + slice - 1) / slice
        let floats = header.tensors.filter { $0.elementType != .i8 }
        let crcs = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: count)
        let faults = UnsafeMutableBufferPointer<FacecError?>.allocate(capacity: count)
        faults.initialize(repeating: nil)
        defer { crcs.deallocate(); faults.deinitialize(); faults.deallocate() }
        let cores = systemCoreCount()
        Threads.parallelFor(iterations: count, threads: buffer.count >= 32 << 20 ? min(cores, 8) : 1) { i in
            let start = i * slice, end = min(buffer.count, start + slice)
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[start..<end])
            // The slice's pages made in one call rather than one fault each
            // (MADV_POPULATE_WRITE, Linux 5.14; older kernels ignore it).
            _ = madvise(part.baseAddress, part.count, 23)
            do { try readFully(fd, at: offset + start, into: part, path: path) } catch {
                faults[i] = (error as? FacecError) ?? FacecError(.io, path, "read error")
                return
            }
            crcs[i] = crc32c(UnsafeRawBufferPointer(part))
            for t in floats where t.offset < end && t.offset + t.length > start {
                let lo = max(t.offset, start), hi = min(t.offset + t.length, end)
                let size = t.elementType.byteSize   // slices and tensors start on element boundaries
                let finite = t.elementType == .f32 ? facec_all_finite_f32(buffer.baseAddress! + lo, (hi - lo) / size)
                                                   : facec_all_finite_f16(buffer.baseAddress! + lo, (hi - lo) / size)
                if finite == 0 {
                    faults[i] = FacecError(.model, path, "invalid model: tensor '\(t.name)' holds a NaN or infinite value")
                    return
                }
            }
        }
        // The first fault in file order, with its kind (a read error is io).
        if let first = faults.lazy.compactMap({ $0 }).first { throw first }
        var crc = crcs[0]
        for i in 1..<count { crc = facec_crc32c_combine(crc, crcs[i], min(slice, buffer.count - i * slice)) }
        guard crc == expected else {
            throw FacecError(.model, path, "damaged model file: data checksum mismatch (the weights are corrupt, or the file changed while being read)")
        }
    }

    private static func checkLayout(_ p: Preamble, fileSize: Int, path: String) throws -> (header: Range<Int>, data: Range<Int>) {
        func bad(_ reason: String) -> FacecError { FacecError(.model, path, reason) }
        guard p.headerOffset == UInt64(Preamble.size) else { throw bad("invalid model file: header offset \(p.headerOffset)") }
        guard p.headerLength > 0, p.headerLength <= UInt64(Preamble.maxHeaderLength) else {
            throw bad("invalid model file: header length \(p.headerLength)")
        }
        let headerEnd = p.headerOffset + p.headerLength
        guard p.dataOffset >= headerEnd, p.dataOffset % UInt64(Preamble.dataAlignment) == 0 else {
            throw bad("invalid model file: data offset \(p.dataOffset)")
        }
        let (end, overflow) = p.dataOffset.addingReportingOverflow(p.dataLength)
        guard !overflow, headerEnd <= UInt64(fileSize), end <= UInt64(fileSize) else {
            throw bad("truncated model file: \(fileSize) bytes, but the preamble describes \(overflow ? "more than 2^64" : String(end)) bytes")
        }
        guard end == UInt64(fileSize) else {
            throw bad("invalid model file: \(UInt64(fileSize) - end) unexpected bytes after the data section")
        }
        return (Int(p.headerOffset)..<Int(headerEnd), Int(p.dataOffset)..<Int(end))
    }
}
