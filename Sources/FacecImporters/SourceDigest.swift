import FacecDigest
import FacecCore
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

extension SHA256 {
    /// Digest of a whole source file.
    public static func hexDigestBytes(ofFile path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FacecError(.io, path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        if let e = hasher.update(readingAll: fd) { throw FacecError(.io, path, "read failed: \(String(cString: strerror(e)))") }
        return hasher.finish()
    }
}
