import FacecCore
import FacecDetect
import FacecRuntime
import FacecPipeline

/// What `gallery add` did.
public struct AddReport: Sendable {
    public var added = 0, replaced = 0, unchanged = 0, pruned = 0
    public var withoutFace = 0, failed = 0, faces = 0
    /// Seconds spent in the network (summed over threads) and in total (wall).
    public var networkSeconds = 0.0, seconds = 0.0
}

/// Adds photos to a gallery incrementally: a photo whose size, time and
/// content are unchanged is not embedded again; a changed one replaces its
/// old faces; with `prune`, photos gone from the given folders are removed.
/// Photos are embedded on all cores and stored in batches of whole photos.
public struct GalleryBuilder {
    public let store: any GalleryStore
    public let embedder: Embedder
    public let mode: FaceMode
    public let threads: Int
    /// Photos per transaction (and at most this many seconds apart).
    public var batch = 32, batchSeconds = 1.0

    public init(store: any GalleryStore, embedder: Embedder, mode: FaceMode, threads: Int) {
        self.store = store; self.embedder = embedder; self.mode = mode; self.threads = threads
    }

    /// `report` gets one line per photo that could not be used (and per
    /// photo without a face, which is stored as such).
    public func add(_ inputs: [String], person: String? = nil, prune: Bool = false,
                    report: (String) -> Void) throws -> AddReport {
        let start = monotonicSeconds()
        var result = AddReport()
        let (found, problems) = PhotoFiles.expand(inputs)
        for p in problems { report(p); result.failed += 1 }
        let stored = try store.photoStates()
        var byHash: [String: String] = [:]
        for (path, s) in stored { byHash[s.sha256] = path }

        var todo: [(file: PhotoFile, size: Int64, mtimeNs: Int64, sha256: String, replaces: Bool)] = []
        for var file in found {
            if let person { file = PhotoFile(path: file.path, person: person) }
            let old = stored[file.path]
            if let old, let q = PhotoFiles.quickStat(file.path), q.size == old.size, q.mtimeNs == old.mtimeNs, old.person == file.person {
                result.unchanged += 1
                continue
            }
            do {
                let f = try PhotoFiles.fingerprint(file.path)
                if let old, old.sha256 == f.sha256, old.person == file.person { result.unchanged += 1; continue }
                if let twin = byHash[f.sha256], twin != file.path { report("\(file.path): same content as \(twin), added as well") }
                byHash[f.sha256] = file.path
                todo.append((file, f.size, f.mtimeNs, f.sha256, old != nil))
            } catch {
                report(String(describing: error)); result.failed += 1
            }
        }

        var pending: [PhotoRecord] = []
        var lastWrite = monotonicSeconds()
        func flush() throws {
            try store.put(pending)
            pending.removeAll()
            lastWrite = monotonicSeconds()
        }
        let paths = todo.map(\.file.path)
        try embedder.embedFacesInOrder(paths, mode: mode, threads: threads) { i, outcome in
            let t = todo[i]
            var faces: [StoredFace] = []
            switch outcome {
            case .success(let list):
                faces = list.map { StoredFace(index: $0.index, area: $0.area, confidence: $0.confidence, embedding: $0.embedding) }
                result.networkSeconds += list.reduce(0) { $0 + $1.networkMs } / 1e3
            case .failure(let error) where (error as? FacecError)?.kind == .noFace:
                // deepface's find keeps such a photo as a row without an
                // embedding; storing it with no faces is the same, and it is
                // not embedded again next time.
                report("\(t.file.path): no face detected; stored without faces")
                result.withoutFace += 1
            case .failure(let error):
                report(String(describing: error)); result.failed += 1
                return
            }
            if t.replaces { result.replaced += 1 } else { result.added += 1 }
            result.faces += faces.count
            pending.append(PhotoRecord(path: t.file.path, person: t.file.person, sha256: t.sha256, size: t.size, mtimeNs: t.mtimeNs, faces: faces))
            if pending.count >= batch || monotonicSeconds() - lastWrite >= batchSeconds { try flush() }
        }
        try flush()

        if prune {
            let gone = Self.vanished(stored.keys, under: inputs)
            result.pruned = try store.remove(paths: gone)
        }
        result.seconds = monotonicSeconds() - start
        return result
    }

    /// Stored paths inside the given folders (or equal to given files) that no longer exist.
    static func vanished(_ stored: Dictionary<String, PhotoState>.Keys, under inputs: [String]) -> [String] {
        let roots = inputs.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        return stored.filter { path in
            (inputs.contains(path) || roots.contains { path.hasPrefix($0) }) && PhotoFiles.quickStat(path) == nil
        }.sorted()
    }
}
