import FacecCore
import FacecFormat

/// Reads a whole photo file with POSIX calls (no Foundation: it costs ~50 MB
/// of binary in the edge runtime). Only regular files are read, and ones over
/// `maxBytes` are refused before reading: a FIFO would block, /dev/zero would
/// be read to the limit, a directory is a mistake.
enum FileReader {
    static func readAll(_ path: String, maxBytes: Int) throws(FacecError) -> [UInt8] {
        switch InputFile.readAll(path, maxBytes: maxBytes) {
        case .success(let bytes): return bytes
        case .failure(let problem): throw FacecError(.io, path, problem.reason)
        }
    }
}
