#if canImport(Glibc)
import Glibc
#endif
import FacecCLI
import FacecFormat

/// Last resort while parsing untrusted weight files: libmatio and libhdf5 are
/// C parsers that a malformed file can crash (a fuzzer found a NULL
/// dereference inside libmatio). Instead of a crash dump, the guard prints
/// one line naming the input, removes a partly written output, and exits 1.
/// Only async-signal-safe calls run in the handler.
enum CrashGuard {
    nonisolated(unsafe) static var message: UnsafeMutablePointer<CChar>? = nil
    nonisolated(unsafe) static var messageLength = 0

    static func arm(input: String) {
        let text = "facec: \(oneLine(input)): malformed file: the reader crashed while parsing it (refusing it)\n"
        message = strdup(text)
        messageLength = text.utf8.count
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if let m = CrashGuard.message { _ = write(2, m, CrashGuard.messageLength) }
            TemporaryFileCleanup.removePending()
            _exit(1)
        }
        for s in [SIGSEGV, SIGBUS, SIGILL, SIGFPE] { sigaction(s, &action, nil) }
    }
}
