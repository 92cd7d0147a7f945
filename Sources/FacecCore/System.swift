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

/// `text` on standard error, unbuffered as stderr is, written straight to
/// descriptor 2 (Glibc's `stderr` is a global variable, which Swift 6 will
/// not read from concurrent code).
public func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(2, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            done += n
        }
    }
}

/// Flushes standard output (all of stdio's output streams: `fflush(NULL)`).
public func flushStandardOutput() { fflush(nil) }
