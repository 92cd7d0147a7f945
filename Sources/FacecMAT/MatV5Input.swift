import CZlib
import FacecCore
#if canImport(Glibc)
import Glibc
#endif

/// A sequential byte source for the MAT v5 element parser: a byte range of
/// the file, or the inflated contents of a compressed element. Sources never
/// know how many bytes a hostile element *declares*; they only hand out the
/// bytes that really exist and say "truncated" when asked for more.
protocol MatV5Input: AnyObject {
    /// Fills `buffer` completely or throws.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws
    /// At most how many bytes the source can still deliver (a file range
    /// knows exactly; an inflater bounds it by deflate's ~1032:1 limit on
    /// its compressed bytes left). Used only to allocate in one go instead
    /// of growing: never more than the file could back.
    var maxAvailable: Int { get }
}

extension MatV5Input {
    /// `n` bytes into a new array. The caller has checked `n` against the
    /// enclosing element. Within what the source could deliver, the array is
    /// allocated at once (its pages are only touched as data arrives: a
    /// full-size VGG-Face layer is not copied while growing); a declared
    /// size beyond it grows as data arrives, so a declared 4 GB backed by a
    /// few bytes of output costs only what was produced.
    func bytes(_ n: Int) throws -> [UInt8] {
        if n == 0 { return [] }
        if n <= maxAvailable {
            return try [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
                try read(into: UnsafeMutableRawBufferPointer(buffer))
                initialized = n
            }
        }
        var out: [UInt8] = []
        while out.count < n {
            let chunk = min(n - out.count, max(1 << 16, out.count))
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: chunk))
            try out.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
        }
        return out
    }

    /// Reads and drops `n` bytes (padding, elements facec does not read)
    /// through a small buffer.
    func skip(_ n: Int) throws {
        if n == 0 { return }
        try withUnsafeTemporaryAllocation(byteCount: min(n, 1 << 16), alignment: 8) { scratch in
            var left = n
            while left > 0 {
                let k = min(left, scratch.count)
                try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<k]))
                left -= k
            }
        }
    }
}

/// The open file, read with pread (no mapping: a file truncated under us
/// gives a short read, not SIGBUS).
final class MatV5FileHandle {
    let fd: Int32
    package let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FacecError(.io, path, "cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw FacecError(.io, path, "cannot read: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Exactly `buffer.count` bytes at `offset`, or a fault.
    package func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let got = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw ReadFault(got < 0 ? "cannot read: \(String(cString: strerror(errno)))" : "truncated file (it ends at byte \(offset + done))")
            }
            done += got
        }
    }
}

/// Bytes `[start, end)` of the file, read through a 64 KB buffer so that a
/// file of a million tiny elements costs a million memcpys, not syscalls.
final class MatV5FileRange: MatV5Input {
    private let file: MatV5FileHandle
    /// Next byte to hand out (file offset) and the end of the range.
    private(set) var offset: Int
    let end: Int
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    init(_ file: MatV5FileHandle, from start: Int, to end: Int) {
        self.file = file
        offset = start
        self.end = min(end, file.size)
    }

    var maxAvailable: Int { end - offset }

    package func read(into out: UnsafeMutableRawBufferPointer) throws {
        guard out.count <= end - offset else {
            throw ReadFault("truncated file: \(out.count) bytes needed at offset \(offset), \(end - offset) left")
        }
        var done = 0
        while done < out.count {
            let inBuffer = offset - bufferStart
            if inBuffer >= 0 && inBuffer < buffer.count {
                let k = min(out.count - done, buffer.count - inBuffer)
                buffer.withUnsafeBytes { out.baseAddress!.advanced(by: done).copyMemory(from: $0.baseAddress! + inBuffer, byteCount: k) }
                done += k
                offset += k
            } else if out.count - done >= 1 << 16 {
                // Large reads (array data) go straight to their destination.
                try file.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: out[done...]))
                offset += out.count - done
                done = out.count
            } else {
                let k = min(1 << 16, end - offset)
                buffer = [UInt8](repeating: 0, count: k)
                try buffer.withUnsafeMutableBytes { try file.read(at: offset, into: $0) }
                bufferStart = offset
            }
        }
    }
}

/// The zlib stream of one miCOMPRESSED element, inflated as the parser asks
/// for bytes: nothing is allocated for output that was not produced.
final class MatV5Inflater: MatV5Input {
    private let source: MatV5FileRange
    /// zlib keeps a pointer back to its stream, so it must not move.
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private static let inputSize = 1 << 16
    private(set) var finished = false

    init(_ source: MatV5FileRange) throws {
        // Set up before any stored property, so that a failure here never
        // reaches deinit (which ends the stream).
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard inflateInit_(stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw ReadFault("cannot start zlib (out of memory)")
        }
        self.source = source
        self.stream = stream
        input = .allocate(capacity: Self.inputSize)
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    /// Deflate's best case is 258 bytes from ~2 bits (1032:1); the slack
    /// covers output zlib holds back in its window.
    var maxAvailable: Int {
        finished ? 0 : 1032 * (source.maxAvailable + Int(stream.pointee.avail_in)) + (1 << 16)
    }

    package func read(into out: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < out.count {
            guard !finished else {
                throw ReadFault("compressed data ends \(out.count - done) bytes before the end of the element it holds")
            }
            if stream.pointee.avail_in == 0 {
                let k = min(Self.inputSize, source.maxAvailable)
                guard k > 0 else { throw ReadFault("truncated compressed data (the zlib stream does not end)") }
                try source.read(into: UnsafeMutableRawBufferPointer(start: input, count: k))
                stream.pointee.next_in = input
                stream.pointee.avail_in = UInt32(k)
            }
            let want = min(out.count - done, 1 << 30)
            stream.pointee.next_out = out.baseAddress!.advanced(by: done).assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(want)
            let status = inflate(stream, Z_NO_FLUSH)
            done += want - Int(stream.pointee.avail_out)
            switch status {
            case Z_OK: break
            case Z_STREAM_END: finished = true
            // No progress without more input (fetched above); with input
            // left it cannot happen, but must not loop if it does.
            case Z_BUF_ERROR where stream.pointee.avail_in == 0: break
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw ReadFault("damaged compressed data (zlib: \(message))")
            }
        }
    }

    /// True when the zlib stream ends exactly here (checked after the one
    /// element it must hold): one more byte of output means the stream holds
    /// more than its element declares.
    func endsHere() throws -> Bool {
        if finished { return true }
        var byte: UInt8 = 0
        do {
            try withUnsafeMutableBytes(of: &byte) { try read(into: $0) }
        } catch is ReadFault where finished {
            return true
        }
        return false
    }
}
