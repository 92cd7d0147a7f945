import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The threads facec starts itself. Creating a thread can fail: a container's
/// pids limit, RLIMIT_NPROC, memory. Every caller therefore works with the
/// threads that could be created, down to none besides its own, and never
/// waits for or joins a thread that does not exist. (libdispatch retries a
/// failed thread creation forever, which is a hang under a pids limit, so
/// the runtime does not use it.)
public enum Threads {
    /// The most threads one command or C API session may ask for.
    public static let limit = 1024

    /// The standard creation function; tests pass one that fails.
    public typealias Create = @Sendable (UnsafeMutablePointer<pthread_t>, @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
                               UnsafeMutableRawPointer) -> Int32
    public static let system: Create = { thread, start, argument in pthread_create(thread, nil, start, argument) }

    /// Runs `body(worker)` on `workers` workers at once, the calling thread
    /// being worker 0, and returns when all are done. Fewer workers run when
    /// threads cannot be created, so `body` must take its share of the work
    /// from a common counter (as `parallelFor` does), not assume its index.
    /// Returns how many workers ran.
    @discardableResult
    public static func run(workers: Int, create: Create = system, _ body: (Int) -> Void) -> Int {
        guard workers > 1 else { body(0); return 1 }
        return withoutActuallyEscaping(body) { escaping in
            let group = ThreadGroup(count: workers - 1, create: create) { escaping($0 + 1) }
            body(0)
            group.wait()
            return group.started + 1
        }
    }

    /// `body(i)` for every i in 0..<iterations, each exactly once, on up to
    /// `threads` threads (the caller's included). Returns how many ran.
    @discardableResult
    public static func parallelFor(iterations: Int, threads: Int, create: Create = system, _ body: (Int) -> Void) -> Int {
        guard iterations > 0 else { return 0 }
        let next = AtomicCounter()
        return run(workers: min(threads, iterations), create: create) { _ in
            while true {
                let i = next.increment()
                if i >= iterations { return }
                body(i)
            }
        }
    }
}

/// Threads running one body each, started together and joined together.
/// `started` may be smaller than asked for (see `Threads`).
public final class ThreadGroup: @unchecked Sendable {
    public private(set) var started = 0
    private var threads: [pthread_t] = []
    private var joined = false

    /// Starts up to `count` threads running `body(index)`, index 0..<started.
    public init(count: Int, create: Threads.Create = Threads.system, _ body: @escaping (Int) -> Void) {
        threads.reserveCapacity(count)
        for index in 0..<count {
            let box = Unmanaged.passRetained(ThreadBody(index: index, body: body)).toOpaque()
            var t = pthread_t()
            let status = create(&t, { argument in
                let start = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
                start.body(start.index)
                return nil
            }, box)
            guard status == 0 else {
                Unmanaged<ThreadBody>.fromOpaque(box).release()
                break
            }
            threads.append(t)
        }
        started = threads.count
    }

    /// Joins every thread that was started.
    public func wait() {
        guard !joined else { return }
        joined = true
        for t in threads { pthread_join(t, nil) }
    }

    deinit { wait() }
}

private final class ThreadBody {
    let index: Int
    let body: (Int) -> Void
    init(index: Int, body: @escaping (Int) -> Void) { self.index = index; self.body = body }
}

/// A counter shared by threads (fetch-and-add).
public final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    /// The value before adding one.
    public func increment() -> Int { value.add(1, ordering: .relaxed).oldValue }
}
