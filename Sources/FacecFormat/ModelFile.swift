#if canImport(Glibc)
import Glibc
#endif

/// A .fgraph file mapped read-only into memory. The weights are used in place
/// (no copy): several model instances, threads and processes share the pages.
///
/// `open` validates everything before anything is used: preamble checksum and
/// version, every offset and length against the file size (overflow-checked),
/// the header checksum, the header's own structure, and, unless asked not to,
/// the data checksum. Kernel-level shape rules are checked by the runtime.
public final class ModelFile: @unchecked Sendable {
    public let path: String
    public let preamble: Preamble
    public let header: ModelHeader
    public let fileSize: Int
    private let base: UnsafeRawPointer
    private let data: UnsafeRawBufferPointer

    /// - Parameter verifyData: check the data section's CRC-32C. On by default:
    ///   a flipped weight bit would silently change embeddings, and inference
    ///   reads every weight page anyway, so the check costs one extra pass over
    ///   memory (measured in ARCHITECTURE.md).
    public init(path: String, verifyData: Bool = true) throws {
        self.path = path
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FormatError(path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FormatError(path, "not a regular file") }
        let size = Int(st.st_size)
        guard size >= Preamble.size else {
            throw FormatError(path, size == 0 ? "empty file, not a facec model"
                              : "truncated or not a facec model: \(size) bytes, shorter than the \(Preamble.size)-byte preamble")
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw FormatError(path, "cannot map: \(String(cString: strerror(errno)))")
        }
        let whole = UnsafeRawBufferPointer(start: UnsafeRawPointer(map), count: size)
        do {
            let p = try Preamble.decode(whole, path: path)
            let layout = try Self.checkLayout(p, fileSize: size, path: path)
            let headerBytes = UnsafeRawBufferPointer(rebasing: whole[layout.header])
            guard crc32c(headerBytes) == p.headerCRC else {
                throw FormatError(path, "damaged model file: header checksum mismatch")
            }
            let dataBytes = UnsafeRawBufferPointer(rebasing: whole[layout.data])
            if verifyData, crc32c(dataBytes) != p.dataCRC {
                throw FormatError(path, "damaged model file: data checksum mismatch (the weights are corrupt)")
            }
            self.header = try HeaderDecoding.decode(headerBytes, dataLength: dataBytes.count, path: path)
            self.preamble = p
            self.data = dataBytes
        } catch {
            munmap(map, size)
            throw error
        }
        self.base = UnsafeRawPointer(map)
        self.fileSize = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), fileSize) }

    /// Verifies the data section checksum (for `facec check` after opening
    /// with `verifyData: false`).
    public func verifyDataChecksum() throws {
        guard crc32c(data) == preamble.dataCRC else {
            throw FormatError(path, "damaged model file: data checksum mismatch (the weights are corrupt)")
        }
    }

    /// The float32 contents of tensor `index`. The header decoder has checked
    /// that it lies inside the data section and matches its shape.
    public func tensor(_ index: Int) -> UnsafeBufferPointer<Float> {
        let t = header.tensors[index]
        precondition(t.elementType == .f32, "tensor \(t.name) is \(t.elementType.rawValue), not float32")
        let p = data.baseAddress!.advanced(by: t.offset).assumingMemoryBound(to: Float.self)
        return UnsafeBufferPointer(start: p, count: t.elementCount)
    }

    /// The stored bytes of tensor `index`, whatever its element type
    /// (`length` bytes, checked against the data section like `tensor(_:)`).
    public func tensorBytes(_ index: Int) -> UnsafeRawBufferPointer {
        let t = header.tensors[index]
        return UnsafeRawBufferPointer(start: data.baseAddress!.advanced(by: t.offset), count: t.length)
    }

    /// Tells the kernel that tensor `index`'s whole pages are not needed for
    /// now (the runtime keeps its own re-laid copy): they leave this process's
    /// resident memory, and come back from the file if read again. A hint; the
    /// mapping and its contents stay valid.
    public func releasePages(ofTensor index: Int) {
        let bytes = tensorBytes(index)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0, let start = bytes.baseAddress else { return }
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + bytes.count) / page * page
        guard end > first, let p = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(p, end - first, MADV_DONTNEED)
    }

    private static func checkLayout(_ p: Preamble, fileSize: Int, path: String) throws -> (header: Range<Int>, data: Range<Int>) {
        func bad(_ reason: String) -> FormatError { FormatError(path, reason) }
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
