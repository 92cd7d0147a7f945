#if canImport(Glibc)
import Glibc
#endif

/// The path of the temporary file being written, for the signal handler
/// (which can only touch globals). One conversion at a time per process.
nonisolated(unsafe) private var pendingTempPath: UnsafeMutablePointer<CChar>? = nil

private func removePendingAndExit(_ signal: Int32) {
    if let p = pendingTempPath { unlink(p) }
    _exit(128 + signal)
}

/// For other signal handlers (the CLI's crash guard): removes the temporary
/// file of a conversion in progress. Async-signal-safe.
public enum TemporaryFileCleanup {
    public static func removePending() {
        if let p = pendingTempPath { unlink(p) }
    }
}

/// A hidden file next to `destination`, renamed onto it by `commit()`.
final class TemporaryFile {
    let destination: String
    let path: String
    private var fd: Int32
    /// Small writes (row-sized chunks) are gathered into 1 MB system calls.
    private var buffer: [UInt8] = []
    private static let bufferLimit = 1 << 20

    init(destination: String) throws {
        self.destination = destination
        let slash = destination.lastIndex(of: "/")
        let dir = slash.map { String(destination[..<$0]) } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        guard !name.isEmpty else { throw FormatError(destination, "output path names a directory") }
        path = (dir.isEmpty ? "" : dir + "/") + ".\(name).tmp.\(getpid())"
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FormatError(destination, "cannot create output: \(String(cString: strerror(errno)))")
        }
        pendingTempPath = strdup(path)
        signal(SIGINT, removePendingAndExit)
        signal(SIGTERM, removePendingAndExit)
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func write(_ raw: UnsafeRawBufferPointer) throws {
        if buffer.count + raw.count <= Self.bufferLimit {
            buffer.append(contentsOf: raw)
            return
        }
        try flush()
        if raw.count < Self.bufferLimit { buffer.append(contentsOf: raw); return }
        try writeNow(raw)
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeNow($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeNow(_ raw: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FormatError(destination, "write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    func write(_ bytes: [UInt8], at offset: Int) throws {
        try flush()
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw FormatError(destination, "write failed: \(String(cString: strerror(errno)))") }
    }

    func commit() throws {
        try flush()
        guard fsync(fd) == 0 else { throw FormatError(destination, "sync failed: \(String(cString: strerror(errno)))") }
        close(fd); fd = -1
        guard rename(path, destination) == 0 else {
            throw FormatError(destination, "cannot move the finished file into place: \(String(cString: strerror(errno)))")
        }
        clearPending()
    }

    /// Removes the temporary file unless it was committed.
    func discardIfPresent() {
        if fd >= 0 { close(fd); fd = -1 }
        if pendingTempPath != nil { unlink(path); clearPending() }
    }

    private func clearPending() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        free(pendingTempPath)
        pendingTempPath = nil
    }
}
