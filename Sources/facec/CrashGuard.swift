import FacecCore
#if canImport(Glibc)
import Glibc

#endif
import FacecCLI
import FacecFormat

/// Last resort while parsing untrusted weight files. The readers are facec's
/// own, bounded and fuzzed (HDF5 and MAT v5: Debian's libhdf5 and libmatio
/// crashed, hung and allocated gigabytes on fuzzed files, Tests/Fuzz/upstream/),
/// but a mapped file truncated by another process while it is read raises
/// SIGBUS, and a bug that fuzzing missed must not leave a crash dump, a hang
/// or a half-written output. The guard prints one line naming the input,
/// removes a partly written output, and exits 1. Only async-signal-safe calls
/// run in the handlers.
enum CrashGuard {
    nonisolated(unsafe) static var crashMessage: UnsafeMutablePointer<CChar>? = nil
    nonisolated(unsafe) static var crashLength = 0
    nonisolated(unsafe) static var hangMessage: UnsafeMutablePointer<CChar>? = nil
    nonisolated(unsafe) static var hangLength = 0

    /// The conversion's time limit: far beyond real files (the full 538 MB
    /// VGG-Face .mat converts in ~6 s, its v7.3 twin in ~3 s), so only a
    /// reader that no longer progresses reaches it.
    static func deadline(forBytes bytes: Int) -> UInt32 { UInt32(min(3600, 20 + bytes / (4 << 20))) }

    /// The conversion's memory limit (RLIMIT_DATA: heap and private
    /// mappings): a converter needs about the weights' size (1.1× measured
    /// for the full VGG-Face); the readers never allocate more than a file
    /// can deliver, and this bounds anything they missed. Past the limit the
    /// allocation fails and the file is refused.
    static func memoryLimit(forBytes bytes: Int) -> Int { max(2 << 30, 3 * bytes + (1 << 30)) }

    static func arm(input: String) {
        TemporaryFileCleanup.prepare()
        let crash = "\(Program.name): \(oneLine(input)): malformed file: the reader crashed while parsing it (refusing it)\n"
        crashMessage = strdup(crash)
        crashLength = crash.utf8.count
        var st = stat()
        let size = stat(input, &st) == 0 ? Int(st.st_size) : 0
        let seconds = deadline(forBytes: size)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_DATA.rawValue), &limit) == 0 {
            let want = rlim_t(memoryLimit(forBytes: size))
            limit.rlim_cur = min(want, limit.rlim_max)
            setrlimit(Int32(RLIMIT_DATA.rawValue), &limit)
        }
        let hang = "\(Program.name): \(oneLine(input)): malformed file: the reader did not finish within \(seconds) s (refusing it)\n"
        hangMessage = strdup(hang)
        hangLength = hang.utf8.count

        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if let m = CrashGuard.crashMessage { _ = write(2, m, CrashGuard.crashLength) }
            TemporaryFileCleanup.removePending()
            _exit(1)
        }
        for s in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT] { sigaction(s, &action, nil) }
        var timer = sigaction()
        timer.__sigaction_handler.sa_handler = { _ in
            if let m = CrashGuard.hangMessage { _ = write(2, m, CrashGuard.hangLength) }
            TemporaryFileCleanup.removePending()
            _exit(1)
        }
        sigaction(SIGALRM, &timer, nil)
        // A parent may have started us with signals blocked (Foundation's
        // Process does): the guard's signals must get through.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for s in [SIGALRM, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT] { sigaddset(&unblock, s) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        alarm(seconds)
    }
}
