#if canImport(Glibc)
import Glibc
#endif

/// Paths of the temporary files being written, for the signal handler (which
/// can only touch globals): a fixed table of slots, so several conversions
/// can run at once in one process (library users, the tests). Slots are
/// taken and released under a mutex; the handler only reads them.
private let pendingSlotCount = 64
nonisolated(unsafe) private let pendingPaths: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
    let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: pendingSlotCount)
    p.initialize(repeating: nil, count: pendingSlotCount)
    return p
}()
nonisolated(unsafe) private var pendingLock = pthread_mutex_t()
nonisolated(unsafe) private var pendingCount = 0
private let pendingLockReady: Void = { pthread_mutex_init(&pendingLock, nil) }()

private func removeAllPending() {
    for i in 0..<pendingSlotCount { if let p = pendingPaths[i] { unlink(p) } }
}

private func removePendingAndExit(_ signal: Int32) {
    removeAllPending()
    _exit(128 + signal)
}

/// Registers `path` for removal on SIGINT/SIGTERM; returns its slot (nil if
/// the table is full: that file is then only removed by its own error path).
private func registerPending(_ path: String) -> Int? {
    _ = pendingLockReady
    pthread_mutex_lock(&pendingLock)
    defer { pthread_mutex_unlock(&pendingLock) }
    guard let slot = (0..<pendingSlotCount).first(where: { pendingPaths[$0] == nil }) else { return nil }
    pendingPaths[slot] = strdup(path)
    pendingCount += 1
    if pendingCount == 1 {
        signal(SIGINT, removePendingAndExit)
        signal(SIGTERM, removePendingAndExit)
    }
    return slot
}

private func unregisterPending(_ slot: Int) {
    pthread_mutex_lock(&pendingLock)
    let p = pendingPaths[slot]
    pendingPaths[slot] = nil
    pendingCount -= 1
    if pendingCount == 0 {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
    pthread_mutex_unlock(&pendingLock)
    free(p)
}

/// For other signal handlers (the CLI's crash guard): removes the temporary
/// files of conversions in progress. Async-signal-safe.
public enum TemporaryFileCleanup {
    public static func removePending() { removeAllPending() }

    /// Runs the table's lazy initialisation now (it allocates): a handler
    /// that ran it first, inside a crash in malloc, would deadlock.
    public static func prepare() { _ = pendingPaths; _ = pendingLockReady }
}

/// A hidden file next to an output's target, renamed onto it by `commit()`
/// (see `OutputFile` for the rule).
package final class TemporaryFile {
    /// The output as the user named it (messages).
    let destination: String
    private let output: OutputFile
    package let path: String
    private var fd: Int32
    /// This file's slot in the signal handler's table while it is pending.
    private var slot: Int?
    private var committed = false
    /// Writes are gathered into 8 MB buffers, written by a background thread
    /// (nil once drained, for the final in-place writes, and for small
    /// unbuffered outputs, which are written as they come).
    private var buffer: AlignedBuffer?
    private var writer: BackgroundWriter?
    private static let bufferLimit = 8 << 20

    package init(_ output: OutputFile, buffered: Bool = true) throws {
        precondition(output.destination != .writeThrough, "a device or FIFO is written in place")
        self.output = output
        destination = output.path
        let target = output.target
        let dir = OutputFile.directory(of: target)
        let name = target.split(separator: "/").last.map(String.init) ?? target
        // Unique per writer: two conversions in one process may target one directory.
        path = (target.contains("/") ? (dir == "/" ? "/" : dir + "/") : "") + ".\(name).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw FacecError(.io, destination, "cannot create output: \(systemMessage(errno))")
        }
        slot = registerPending(path)
        if case .replace(let permissions, let owner, let group) = output.destination {
            // The replaced file's permissions (a private file stays private).
            if geteuid() == 0 { _ = fchown(fd, owner, group) }
            guard fchmod(fd, permissions) == 0 else {
                let e = errno
                discardIfPresent()
                throw FacecError(.io, destination, "cannot set the output's permissions: \(systemMessage(e))")
            }
        }
        guard buffered else { return }
        buffer = AlignedBuffer(capacity: Self.bufferLimit)
        do { writer = try BackgroundWriter(fd: fd, bufferSize: Self.bufferLimit) } catch {
            discardIfPresent()
            throw FacecError(.io, destination, "cannot start the writer thread")
        }
    }

    package func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    package func write(_ raw: UnsafeRawBufferPointer) throws {
        guard buffer != nil else {
            let error = BackgroundWriter.writeAll(fd, raw).error
            guard error == 0 else { throw writeFailed(error) }
            return
        }
        var rest = raw[...]
        while !rest.isEmpty, let current = buffer {
            rest = rest.dropFirst(current.append(UnsafeRawBufferPointer(rebasing: rest)))
            if current.count == current.capacity { try flush() }
        }
    }

    private func flush() throws {
        guard let full = buffer, full.count > 0 else { return }
        if let writer {
            do { buffer = try writer.submit(full) } catch let failure as BackgroundWriter.WriterFailure {
                throw writeFailed(failure.errno)
            }
        } else {
            let error = BackgroundWriter.writeAll(fd, full.bytes).error
            guard error == 0 else { throw writeFailed(error) }
            full.count = 0
        }
    }

    /// Writes everything queued and stops the background thread.
    private func drain() throws {
        try flush()
        guard let w = writer else { return }
        writer = nil
        do { try w.finish() } catch let failure as BackgroundWriter.WriterFailure { throw writeFailed(failure.errno) }
    }

    private func writeFailed(_ error: Int32) -> FacecError {
        FacecError(.io, destination, "write failed: \(systemMessage(error))")
    }

    package func write(_ bytes: [UInt8], at offset: Int) throws {
        try drain()
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw writeFailed(n < 0 ? errno : ENOSPC) }
    }

    package func commit() throws {
        try drain()
        // Delayed allocation reports a full disk at fsync or close.
        guard fsync(fd) == 0 else { throw FacecError(.io, destination, "sync failed: \(systemMessage(errno))") }
        let closed = close(fd)
        fd = -1
        guard closed == 0 || errno == EINTR else { throw writeFailed(errno) }
        // The target may have changed since it was checked: never rename
        // over anything but a regular file (or nothing, for a new output).
        var st = stat()
        if lstat(output.target, &st) == 0 && FileKind(mode: st.st_mode) != .regular {
            throw FacecError(.io, destination, "became \(FileKind(mode: st.st_mode).noun) while the output was written; left as it is")
        }
        guard rename(path, output.target) == 0 else {
            throw FacecError(.io, destination, "cannot move the finished file into place: \(systemMessage(errno))")
        }
        committed = true
        clearPending()
    }

    /// Removes the temporary file unless it was committed.
    package func discardIfPresent() {
        if let w = writer { writer = nil; try? w.finish() }
        if fd >= 0 { close(fd); fd = -1 }
        if !committed { unlink(path) }
        clearPending()
    }

    private func clearPending() {
        if let s = slot { unregisterPending(s); slot = nil }
    }
}
