import FacecCore
import FacecDetect
import FacecFormat
import FacecSearchKernels

/// A gallery face that matched a query face.
public struct FoundFace: Sendable {
    public let path: String
    public let person: String
    public let area: FacialArea
    public let distance: Double
}

/// How `find` searches a gallery: exactly (every face), or through an
/// approximate index (PostgreSQL's HNSW).
public enum SearchMode: String, Sendable, CaseIterable { case exact, hnsw }

/// Finds the gallery faces near each query: with a threshold, every face
/// within it, nearest first (at most `top`); without one, the `top` nearest.
public protocol FaceSearcher {
    func search(_ queries: [[Float]], metric: Metric, threshold: Double?, top: Int?) throws -> [[FoundFace]]
}

/// Exact search in memory (the embedded gallery's way).
public final class InMemorySearcher: FaceSearcher {
    public let matrix: FaceMatrix
    public let threads: Int
    public init(matrix: FaceMatrix, threads: Int) { self.matrix = matrix; self.threads = threads }

    public func search(_ queries: [[Float]], metric: Metric, threshold: Double?, top: Int?) throws -> [[FoundFace]] {
        ExactSearch.search(queries, in: matrix, metric: metric, threshold: threshold, top: top, threads: threads).map { matches in
            matches.map { FoundFace(path: matrix.path(ofRow: $0.row), person: matrix.person(ofRow: $0.row), area: matrix.areas[$0.row], distance: $0.distance) }
        }
    }
}

extension Gallery {
    /// The searcher for a store: PostgreSQL searches in the database; an
    /// SQLite gallery is read into memory once and searched there.
    public static func searcher(for store: any GalleryStore, mode: SearchMode, threads: Int, efSearch: Int? = nil) throws -> any FaceSearcher {
        if let pg = store as? PostgresGallery { return PostgresSearcher(gallery: pg, mode: mode, efSearch: efSearch) }
        guard mode == .exact else {
            throw FacecError(.gallery, store.location, "--search hnsw needs a PostgreSQL gallery (an embedded gallery is searched exactly, on all cores)")
        }
        return InMemorySearcher(matrix: try store.loadFaces(), threads: threads)
    }
}
