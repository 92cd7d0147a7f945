#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a condition variable (pthreads), so the runtime needs no
/// Foundation (NSCondition would link Foundation and ICU into facec-run).
package final class Condition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
    /// Call with the lock held; returns with it held.
    package func wait() { pthread_cond_wait(cond, mutex) }
    package func broadcast() { pthread_cond_broadcast(cond) }
}
