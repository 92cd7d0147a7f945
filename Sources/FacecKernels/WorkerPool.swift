import FacecCore
import Synchronization
import CCPUFeatures
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads for one model instance: started once, woken per
/// layer (`parallelFor`), never created per layer. The caller thread works too,
/// so `threads == 1` means no extra thread at all. Idle workers spin briefly
/// (layers follow each other within microseconds) and then sleep.
///
/// Threads that cannot be created (a pids limit, say) are done without:
/// `threads` is what the pool really has, and jobs are shared out by a
/// counter, so they finish on however many threads exist.
package final class WorkerPool: @unchecked Sendable {
    /// The caller plus the workers actually started.
    package private(set) var threads: Int
    private var workers: ThreadGroup?
    private let generation = Atomic<Int>(0)
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private var count = 0
    private var body: ((Int, Int) -> Void)? = nil
    private var shuttingDown = false
    /// Set per layer by the instance: run the next jobs on the caller alone
    /// (a layer too small to pay for waking and joining the workers).
    package var serial = false
    /// Allocated, so their addresses stay put (pthreads needs that; a
    /// stored property's address is not guaranteed stable).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init(threads: Int, create: Threads.Create = Threads.system) {
        self.threads = 1
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        guard threads > 1 else { return }
        let group = ThreadGroup(count: threads - 1, create: create) { i in self.workerLoop(index: i + 1) }
        workers = group
        self.threads = 1 + group.started
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(wake)
        mutex.deallocate()
        wake.deallocate()
    }

    /// Stops and joins the workers (they hold a reference, so deinit alone
    /// would never run).
    package func shutdown() {
        guard let group = workers else { return }
        pthread_mutex_lock(mutex)
        shuttingDown = true
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        group.wait()
        workers = nil
    }

    /// Runs body(0..<count) across the threads; returns when all are done.
    package func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        parallelForWithThread(count) { i, _ in body(i) }
    }

    /// The same, also passing the index (0..<threads) of the thread running
    /// each item, for per-thread scratch.
    package func parallelForWithThread(_ count: Int, _ body: (Int, Int) -> Void) {
        if threads == 1 || count <= 1 || serial {
            for i in 0..<count { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            pthread_mutex_lock(mutex)
            self.body = escaping
            self.count = count
            next.store(0, ordering: .relaxed)
            finished.store(0, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
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
                pthread_mutex_lock(mutex)
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
                pthread_mutex_unlock(mutex)
            }
            seen = generation.load(ordering: .acquiring)
            pthread_mutex_lock(mutex)
            let stop = shuttingDown
            pthread_mutex_unlock(mutex)
            if stop { return }
            work(thread: index)
            finished.add(1, ordering: .releasing)
        }
    }

    @inline(__always) private func spinPause() { facec_cpu_relax() }
}
