#if canImport(Glibc)
import Glibc
#endif

/// Appends whole buffers to a file descriptor on its own thread, so that the
/// producer (reading, transposing and transforming weights) overlaps the
/// kernel's copy into the page cache, which takes about as long for a
/// full-size model (757 MB). At most `depth` buffers are queued; `submit`
/// waits when the queue is full, so memory stays bounded.
final class BackgroundWriter {
    private let fd: Int32
    private let depth: Int
    private var lock = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var queue: [[UInt8]] = []
    /// Buffers written and handed back for reuse.
    private var spare: [[UInt8]] = []
    private var failure: Int32 = 0   // errno of the first failed write
    private var closing = false
    private var thread = pthread_t()

    init(fd: Int32, depth: Int = 3) throws {
        self.fd = fd
        self.depth = depth
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&changed, nil)
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            let writer = Unmanaged<BackgroundWriter>.fromOpaque(context!).takeRetainedValue()
            writer.run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<BackgroundWriter>.fromOpaque(context).release()
            throw WriterFailure(errno: status)
        }
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&lock)
    }

    struct WriterFailure: Error { let errno: Int32 }

    /// Queues `buffer` for writing and returns an empty buffer to fill next
    /// (a recycled one when available).
    func submit(_ buffer: [UInt8]) throws -> [UInt8] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        while queue.count >= depth && failure == 0 { pthread_cond_wait(&changed, &lock) }
        guard failure == 0 else { throw WriterFailure(errno: failure) }
        queue.append(buffer)
        pthread_cond_broadcast(&changed)
        var next = spare.popLast() ?? []
        next.removeAll(keepingCapacity: true)
        return next
    }

    /// Waits until every queued buffer is written and stops the thread;
    /// throws the first write error.
    func finish() throws {
        pthread_mutex_lock(&lock)
        closing = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&lock)
        pthread_join(thread, nil)
        guard failure == 0 else { throw WriterFailure(errno: failure) }
    }

    private func run() {
        while true {
            pthread_mutex_lock(&lock)
            while queue.isEmpty && !closing { pthread_cond_wait(&changed, &lock) }
            if queue.isEmpty || failure != 0 {
                pthread_mutex_unlock(&lock)
                return
            }
            let buffer = queue.removeFirst()
            pthread_mutex_unlock(&lock)

            let error = buffer.withUnsafeBytes { Self.writeAll(fd, $0) }

            pthread_mutex_lock(&lock)
            if error != 0 && failure == 0 { failure = error }
            spare.append(buffer)
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&lock)
        }
    }

    /// 0, or the errno of the failed write.
    static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Int32 {
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? EIO : errno }
            done += n
        }
        return 0
    }
}
