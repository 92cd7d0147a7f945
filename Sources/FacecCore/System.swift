#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock (timings; never the time of day).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The cores online: the default thread count everywhere.
public func systemCoreCount() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

/// The system's page size in bytes.
public func systemPageSize() -> Int { max(1, Int(sysconf(Int32(_SC_PAGESIZE)))) }
