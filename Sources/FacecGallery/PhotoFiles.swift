import FacecDigest
import FacecCore
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
                walk(input, into: &files, seen: &seen, problems: &problems)
            } else {
                add(PhotoFile(path: input, person: stem(input)))
            }
        }
        return (files, problems)
    }

    /// Directories deeper than this below a given folder are reported, not walked.
    static let maxDepth = 32

    /// Depth first in name order, as a recursive walk would go, but with an
    /// explicit stack (no recursion to overflow) and each directory visited
    /// once by device and inode: symbolic links that loop back, or lead to a
    /// folder already walked, add nothing twice.
    private static func walk(_ root: String, into files: inout [PhotoFile], seen: inout Set<String>, problems: inout [String]) {
        var visited: Set<FileIdentity> = []
        if let id = FileIdentity(path: root) { visited.insert(id) }
        guard let top = list(root, problems: &problems) else { return }
        var stack: [(relative: [String], names: [String], next: Int)] = [([], top, 0)]
        while var level = stack.popLast() {
            guard level.next < level.names.count else { continue }
            let name = level.names[level.next]
            level.next += 1
            stack.append(level)
            let relative = level.relative + [name]
            let path = join(root, relative)
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            switch FileKind(mode: st.st_mode) {
            case .directory:
                guard visited.insert(FileIdentity(st)).inserted else { continue }
                guard relative.count <= maxDepth else {
                    problems.append("\(path): more than \(maxDepth) folders deep; not searched")
                    continue
                }
                if let names = list(path, problems: &problems) { stack.append((relative, names, 0)) }
            case .regular:
                guard let dot = name.lastIndex(of: "."), extensions.contains(name[name.index(after: dot)...].lowercased()) else { continue }
                let person = relative.count > 1 ? relative[0] : stem(name)
                if seen.insert(path).inserted { files.append(PhotoFile(path: path, person: person)) }
            default:
                continue   // FIFOs, devices, sockets are never photos
            }
        }
    }

    /// A directory's visible entries, sorted.
    private static func list(_ dir: String, problems: inout [String]) -> [String]? {
        guard let d = opendir(dir) else { problems.append("\(dir): \(String(cString: strerror(errno)))"); return nil }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        closedir(d)
        return names.sorted()
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
        let fd: Int32
        switch InputFile.open(path) {
        case .success(let file): fd = file.fd
        case .failure(let problem): throw FacecError(.io, path, problem.reason)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FacecError(.io, path, "cannot stat: \(String(cString: strerror(errno)))") }
        var hasher = SHA256()
        if let e = hasher.update(readingAll: fd) { throw FacecError(.io, path, "read failed: \(String(cString: strerror(e)))") }
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
