#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file with POSIX calls (no Foundation: it costs ~50 MB of
/// binary in the edge runtime). Refuses directories and files over `maxBytes`
/// before reading them.
enum FileReader {
    static func readAll(_ path: String, maxBytes: Int) throws(ImageError) -> [UInt8] {
        func fail(_ reason: String) -> ImageError { ImageError(path: path, reason: reason) }
        func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            switch e {
            case ENOENT: throw fail("no such file")
            case EACCES: throw fail("permission denied")
            default: throw fail("cannot open: \(errnoText(e))")
            }
        }
        defer { close(fd) }

        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("cannot stat: \(errnoText(errno))") }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR { throw fail("is a directory, not an image file") }

        // Regular files: check the size before reading. Other kinds (pipes,
        // /dev/stdin) are read up to the limit, so /dev/zero cannot exhaust memory.
        var expected = 0
        if type == S_IFREG {
            expected = Int(st.st_size)
            if expected > maxBytes {
                throw fail("file is \(expected) bytes, larger than the limit of \(maxBytes) bytes")
            }
        }

        // A regular file is read to its stat size (a file that grows meanwhile
        // is cut there; one that shrinks ends early). Anything else grows the
        // buffer in steps up to one byte past the limit, to detect "too large".
        let cap = type == S_IFREG ? expected : maxBytes + 1
        var bytes = [UInt8](repeating: 0, count: type == S_IFREG ? expected : min(cap, 1 << 16))
        var filled = 0
        while filled < cap {
            if filled == bytes.count {
                bytes.append(contentsOf: repeatElement(0, count: min(bytes.count, cap - bytes.count)))
            }
            let got = bytes.withUnsafeMutableBytes { buf in
                systemRead(fd, buf.baseAddress! + filled, buf.count - filled)
            }
            if got < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == EISDIR { throw fail("is a directory, not an image file") }
                throw fail("read error: \(errnoText(e))")
            }
            if got == 0 { break }
            filled += got
        }
        if filled > maxBytes {
            throw fail("file is larger than the limit of \(maxBytes) bytes")
        }
        bytes.removeSubrange(filled...)
        return bytes
    }
}

/// `read(2)`, named apart from the static methods above.
@inline(__always)
private func systemRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int {
    read(fd, buf, n)
}
