#if canImport(Glibc)
import Glibc
#endif

/// What kind of file a path names (after following symbolic links), in the
/// words error messages use.
public enum FileKind: Sendable, Equatable {
    case regular, directory, fifo, characterDevice, blockDevice, socket, symbolicLink, other

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        case S_IFLNK: self = .symbolicLink
        default: self = .other
        }
    }

    /// "a FIFO (named pipe)", "a character device", …
    public var noun: String {
        switch self {
        case .regular: return "a regular file"
        case .directory: return "a directory"
        case .fifo: return "a FIFO (named pipe)"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .socket: return "a socket"
        case .symbolicLink: return "a symbolic link"
        case .other: return "a special file"
        }
    }
}

/// A file's identity, device and inode: two paths name one file exactly when
/// their identities are equal (hard links, symbolic links, `./x` and `x`).
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    public init(_ st: stat) { device = UInt64(st.st_dev); inode = UInt64(st.st_ino) }

    /// The identity of the file `path` names (links followed); nil if there is none.
    public init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        self.init(st)
    }
}

/// Why a file cannot be read; `reason` completes "<path>: ".
public struct FileProblem: Error, Sendable {
    public let reason: String
    /// The errno behind it (0 when the file is of the wrong kind).
    public let code: Int32
}

/// Opening the files facec reads (photos, models, .npy and CSV inputs,
/// weight files). Only regular files are read: a FIFO would block the open
/// or the read forever, a device such as /dev/zero never ends, and a
/// directory is a mistake. The open does not block (O_NONBLOCK), so a FIFO
/// is refused at once.
public enum InputFile {
    /// A descriptor of the regular file `path` (links followed) and its size.
    /// The caller closes it.
    public static func open(_ path: String) -> Result<(fd: Int32, size: Int), FileProblem> {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 {
            let e = errno
            switch e {
            case ENOENT: return .failure(FileProblem(reason: "no such file", code: e))
            case EACCES: return .failure(FileProblem(reason: "permission denied", code: e))
            default: return .failure(FileProblem(reason: "cannot open: \(systemMessage(e))", code: e))
            }
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            return .failure(FileProblem(reason: "cannot stat: \(systemMessage(e))", code: e))
        }
        let kind = FileKind(mode: st.st_mode)
        guard kind == .regular else {
            close(fd)
            return .failure(FileProblem(reason: "is \(kind.noun), not a regular file", code: 0))
        }
        // Reads of a regular file never block; clear the flag anyway so the
        // descriptor behaves as an ordinary one.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return .success((fd, Int(st.st_size)))
    }

    /// The whole regular file `path`, refused before reading when it is
    /// larger than `maxBytes`. A file that shrinks while read ends early; one
    /// that grows is cut at its size when opened.
    public static func readAll(_ path: String, maxBytes: Int) -> Result<[UInt8], FileProblem> {
        let (fd, size): (Int32, Int)
        switch open(path) {
        case .failure(let p): return .failure(p)
        case .success(let f): (fd, size) = f
        }
        defer { close(fd) }
        guard size <= maxBytes else {
            return .failure(FileProblem(reason: "file is \(size) bytes, larger than the limit of \(maxBytes) bytes", code: 0))
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failure(FileProblem(reason: "read error: \(systemMessage(errno))", code: errno)) }
            if n == 0 { break }
            done += n
        }
        if done < size { bytes.removeSubrange(done...) }
        return .success(bytes)
    }
}

/// strerror's text for `code`.
public func systemMessage(_ code: Int32) -> String { String(cString: strerror(code)) }

/// Every reader's first check, so a missing, unreadable or special file
/// gets the same message whatever its format.
public func checkReadableFile(_ path: String) throws(FacecError) {
    switch InputFile.open(path) {
    case .success(let file): close(file.fd)
    case .failure(let problem): throw FacecError(.io, path, problem.reason)
    }
}
