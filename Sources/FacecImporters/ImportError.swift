import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// Why a weight file cannot be imported. Always names the file.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public init(_ path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// A reason found deep inside a reader, which knows neither the file nor the
/// object's path; the caller that knows them turns it into an `ImportError`.
struct ReadFault: Error {
    let reason: String
    /// Where below the object the caller knows the fault lies (e.g. `{2}` for
    /// the second element of a cell array being read), or "".
    var within: String = ""
    init(_ reason: String, within: String = "") { self.reason = reason; self.within = within }
}

/// Every importer's first check, so a missing, unreadable or special file
/// gets the same message whatever its format.
func checkReadableFile(_ path: String) throws {
    switch InputFile.open(path) {
    case .success(let file): close(file.fd)
    case .failure(let problem): throw ImportError(path, problem.reason)
    }
}
