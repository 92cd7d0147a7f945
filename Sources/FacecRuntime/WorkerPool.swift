import Synchronization
import CCPUFeatures
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads for one model instance: started once, woken per
/// layer (`parallelFor`), never created per layer. The caller thread works too,
/// so `threads == 1` means no extra thread at all. Idle workers spin briefly
/// (layers follow each other within microseconds) and then sleep.
final class WorkerPool: @unchecked Sendable {
    let threads: Int
    private var workers: [pthread_t] = []
    private let generation = Atomic<Int>(0)
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private var count = 0
    private var body: ((Int, Int) -> Void)? = nil
    private var shuttingDown = false
    /// Set per layer by the instance: run the next jobs on the caller alone
    /// (a layer too small to pay for waking and joining the workers).
    var serial = false
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()

    init(threads: Int) {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1..<self.threads {
            var t = pthread_t()
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index)).toOpaque()
            pthread_create(&t, nil, { arg in
                let start = Unmanaged<WorkerStart>.fromOpaque(arg!).takeRetainedValue()
                start.pool.workerLoop(index: start.index)
                return nil
            }, box)
            workers.append(t)
        }
    }

    /// Stops and joins the workers (they hold a reference, so deinit alone
    /// would never run).
    func shutdown() {
        guard !workers.isEmpty else { return }
        pthread_mutex_lock(&mutex)
        shuttingDown = true
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for t in workers { pthread_join(t, nil) }
        workers.removeAll()
    }

    /// Runs body(0..<count) across the threads; returns when all are done.
    func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        parallelForWithThread(count) { i, _ in body(i) }
    }

    /// The same, also passing the index (0..<threads) of the thread running
    /// each item, for per-thread scratch.
    func parallelForWithThread(_ count: Int, _ body: (Int, Int) -> Void) {
        if threads == 1 || count <= 1 || serial {
            for i in 0..<count { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            pthread_mutex_lock(&mutex)
            self.body = escaping
            self.count = count
            next.store(0, ordering: .relaxed)
            finished.store(0, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            work(thread: 0)
            // Wait for every worker to leave the job before the closure dies.
            while finished.load(ordering: .acquiring) < threads - 1 { spinPause() }
            self.body = nil
        }
    }

    private func work(thread: Int) {
        guard let body else { return }
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= count { break }
            body(i, thread)
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < 20_000 { spinPause(); spins += 1 }
            if generation.load(ordering: .acquiring) == seen {
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(&wake, &mutex) }
                pthread_mutex_unlock(&mutex)
            }
            seen = generation.load(ordering: .acquiring)
            pthread_mutex_lock(&mutex)
            let stop = shuttingDown
            pthread_mutex_unlock(&mutex)
            if stop { return }
            work(thread: index)
            finished.add(1, ordering: .releasing)
        }
    }

    @inline(__always) private func spinPause() { facec_cpu_relax() }
}

/// What a new worker thread needs to know.
private final class WorkerStart {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}
