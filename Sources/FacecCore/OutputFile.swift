#if canImport(Glibc)
import Glibc
#endif

/// Where facec writes a result, checked before any work. One rule for every
/// output (`convert -o`, `run --npy`, `verify --pairs -o`, `detect --crops`,
/// `gallery bench --ids`, in `facec` and `facec-run` alike):
///
/// - a new path, or an existing regular file: written to a hidden temporary
///   file in the same directory, synced, then renamed over the path, so a
///   failure leaves the old file or nothing. A replaced file keeps its
///   permission bits (and, when facec runs as root, its owner and group).
/// - a symbolic link is followed: the file it names is written as above and
///   the link stays a link. A link to nothing is refused (it could point
///   anywhere a hostile user liked).
/// - a character device or FIFO (`/dev/null`, `/dev/stdout`, a pipe) is
///   written through, in place, once the result is complete: never replaced
///   by a regular file. A FIFO waits for its reader, as with any Unix tool.
///   Outputs that must be regular files (models: written with seeks) refuse
///   them.
/// - a directory, block device or socket is refused.
/// - a file that is also one of the command's inputs (same device and inode,
///   whatever the spelling) is refused.
public struct OutputFile: Sendable {
    public enum Destination: Sendable, Equatable {
        /// Nothing there yet: a new file (permissions 0666 less the umask).
        case create
        /// A regular file: replaced, keeping these.
        case replace(permissions: mode_t, owner: uid_t, group: gid_t)
        /// A character device or FIFO: written in place.
        case writeThrough
    }

    /// The path as given (messages name it).
    public let path: String
    /// The file written or renamed over: `path` with symbolic links resolved.
    public let target: String
    public let destination: Destination

    /// Checks `path` as an output. `inputs` are the command's input files
    /// (or their identities); `regularFileFor`, when set, refuses devices and
    /// FIFOs and names what needs a regular file.
    public static func check(_ path: String, inputs: [String] = [], regularFileFor: String? = nil) throws -> OutputFile {
        try check(path, inputIdentities: Set(inputs.compactMap { FileIdentity(path: $0) }), regularFileFor: regularFileFor)
    }

    public static func check(_ path: String, inputIdentities: Set<FileIdentity>, regularFileFor: String? = nil) throws -> OutputFile {
        func fail(_ reason: String) -> FacecError { FacecError(.io, path, reason) }
        guard !path.isEmpty else { throw fail("the output path is empty") }
        guard !path.hasSuffix("/") else { throw fail("the output path names a directory") }
        var st = stat()
        if stat(path, &st) == 0 {
            let kind = FileKind(mode: st.st_mode)
            guard !inputIdentities.contains(FileIdentity(st)) else {
                throw fail("is also an input of this command; refusing to overwrite it (give another output path)")
            }
            switch kind {
            case .regular:
                guard let real = realpath(path, nil) else { throw fail("cannot resolve the path: \(systemMessage(errno))") }
                defer { free(real) }
                try checkDirectory(of: String(cString: real), for: path)
                return OutputFile(path: path, target: String(cString: real),
                                  destination: .replace(permissions: st.st_mode & 0o777, owner: st.st_uid, group: st.st_gid))
            case .characterDevice, .fifo:
                if let what = regularFileFor { throw fail("is \(kind.noun); \(what) is written as a regular file") }
                return OutputFile(path: path, target: path, destination: .writeThrough)
            default:
                throw fail("is \(kind.noun); facec writes regular files, character devices and FIFOs only")
            }
        }
        let missing = errno
        guard missing == ENOENT else { throw fail("cannot use as output: \(systemMessage(missing))") }
        if lstat(path, &st) == 0 && FileKind(mode: st.st_mode) == .symbolicLink {
            throw fail("is a symbolic link to a missing file; refusing to create a file where it points")
        }
        try checkDirectory(of: path, for: path)
        return OutputFile(path: path, target: path, destination: .create)
    }

    /// The directory a new or replaced file goes into must exist and take
    /// new files (the temporary file is made there).
    private static func checkDirectory(of target: String, for path: String) throws {
        let dir = directory(of: target)
        var st = stat()
        guard stat(dir, &st) == 0 else {
            throw FacecError(.io, path, "cannot create: the directory '\(dir)' \(errno == ENOENT ? "does not exist" : "cannot be used: " + systemMessage(errno))")
        }
        guard FileKind(mode: st.st_mode) == .directory else { throw FacecError(.io, path, "cannot create: '\(dir)' is not a directory") }
        guard access(dir, W_OK | X_OK) == 0 else {
            throw FacecError(.io, path, "cannot create files in '\(dir)': \(systemMessage(errno))")
        }
    }

    /// The directory part of `path` ("." for a bare name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Writes `bytes` as the whole output, by the rule above.
    public func write(_ bytes: [UInt8]) throws {
        if destination == .writeThrough {
            // O_NOCTTY: a terminal given as the output never becomes ours.
            let fd = open(target, O_WRONLY | O_CLOEXEC | O_NOCTTY)
            guard fd >= 0 else { throw FacecError(.io, path, "cannot open for writing: \(systemMessage(errno))") }
            let error = bytes.withUnsafeBytes { BackgroundWriter.writeAll(fd, $0).error }
            let closeError = close(fd) == 0 ? 0 : errno
            guard error == 0 else { throw FacecError(.io, path, "write failed: \(systemMessage(error))") }
            guard closeError == 0 || closeError == EINTR else { throw FacecError(.io, path, "write failed: \(systemMessage(closeError))") }
            return
        }
        let temp = try TemporaryFile(self, buffered: false)
        defer { temp.discardIfPresent() }
        try temp.write(bytes)
        try temp.commit()
    }
}
