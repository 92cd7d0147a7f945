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
    var st = stat()
    guard stat(path, &st) == 0 else { throw ImportError(path, "cannot open: \(String(cString: strerror(errno)))") }
    let kind = FileKind(mode: st.st_mode)
    guard kind == .regular else { throw ImportError(path, "is \(kind.noun), not a regular file") }
    guard access(path, R_OK) == 0 else { throw ImportError(path, "cannot read: \(String(cString: strerror(errno)))") }
}
