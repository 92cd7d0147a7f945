import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// A photo file found for the gallery, with the person it shows.
public struct PhotoFile: Sendable, Equatable {
    public let path: String
    public let person: String
}

/// Turns the paths given to `gallery add` into photo files: a folder is
/// walked (sorted, hidden entries skipped) for .jpg/.jpeg/.png/.webp files;
/// `DIR/PERSON/photo.jpg` is PERSON's, a photo directly in DIR (or given as a
/// file) is named by its file name without extension.
public enum PhotoFiles {
    static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    /// The photos, and one message per path that cannot be read.
    public static func expand(_ inputs: [String]) -> (files: [PhotoFile], problems: [String]) {
        var files: [PhotoFile] = [], problems: [String] = [], seen: Set<String> = []
        func add(_ f: PhotoFile) { if seen.insert(f.path).inserted { files.append(f) } }
        for input in inputs {
            var st = stat()
            guard stat(input, &st) == 0 else { problems.append("\(input): \(String(cString: strerror(errno)))"); continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                walk(input, relative: [], into: &files, seen: &seen, problems: &problems)
            } else {
                add(PhotoFile(path: input, person: stem(input)))
            }
        }
        return (files, problems)
    }

    private static func walk(_ root: String, relative: [String], into files: inout [PhotoFile], seen: inout Set<String>, problems: inout [String]) {
        let dir = join(root, relative)
        guard let d = opendir(dir) else { problems.append("\(dir): \(String(cString: strerror(errno)))"); return }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        closedir(d)
        for name in names.sorted() {
            let path = join(root, relative + [name])
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                // Symlinked folders could loop; real ones are bounded by depth.
                if relative.count < 32 { walk(root, relative: relative + [name], into: &files, seen: &seen, problems: &problems) }
            } else if (st.st_mode & S_IFMT) == S_IFREG, let dot = name.lastIndex(of: "."),
                      extensions.contains(name[name.index(after: dot)...].lowercased()) {
                let person = relative.first ?? stem(name)
                if seen.insert(path).inserted { files.append(PhotoFile(path: path, person: person)) }
            }
        }
    }

    /// os.path.join's spelling (deepface's identities are built the same way).
    static func join(_ root: String, _ parts: [String]) -> String {
        parts.reduce(root) { $0.hasSuffix("/") ? $0 + $1 : $0 + "/" + $1 }
    }

    static func stem(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// Size, modification time (ns) and SHA-256 (hex) of a file.
    static func fingerprint(_ path: String) throws -> (size: Int64, mtimeNs: Int64, sha256: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GalleryError(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GalleryError(path, "cannot stat: \(String(cString: strerror(errno)))") }
        var hasher = SHA256()
        if let e = hasher.update(readingAll: fd) { throw GalleryError(path, "read failed: \(String(cString: strerror(e)))") }
        let hex = hasher.finish().map { String($0, radix: 16).leftPadded(2) }.joined()
        return (Int64(st.st_size), mtimeNs(st), hex)
    }

    static func mtimeNs(_ st: stat) -> Int64 { Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec) }

    static func quickStat(_ path: String) -> (size: Int64, mtimeNs: Int64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int64(st.st_size), mtimeNs(st))
    }
}
