import FacecCore
import FacecDetect
import FacecFormat
import FacecPipeline
import FacecSearchKernels

/// The scale-out gallery: the same records in PostgreSQL, embeddings in a
/// pgvector `vector(D)` column, so that many boxes share one gallery and the
/// database searches it (exactly, or with an HNSW index: `gallery index`).
final class PostgresGallery: GalleryStore {
    let location: String
    private(set) var model: GalleryModel
    let db: PostgresConnection

    init(url: String, model wanted: GalleryModel?, create: Bool) throws {
        let db = try PostgresConnection(url: url)
        let location = db.location
        self.db = db
        self.location = location
        let exists = try db.query("SELECT to_regclass('facec_meta') IS NOT NULL")[0][0] == "t"
        if !exists {
            guard create, let wanted else {
                throw FacecError(.gallery, location, "holds no facec gallery (create it with 'facec gallery add MODEL \(location) PHOTOS...')")
            }
            try db.transaction {
                // Two boxes creating the gallery at once: one waits for the other.
                try db.query("SELECT pg_advisory_xact_lock(7346001)")
                try db.query("CREATE EXTENSION IF NOT EXISTS vector")
                guard try db.query("SELECT to_regclass('facec_meta') IS NOT NULL")[0][0] != "t" else { return }
                try db.query("""
                    CREATE TABLE facec_meta (key text PRIMARY KEY, value text NOT NULL);
                    CREATE TABLE facec_photos (id bigserial PRIMARY KEY, path text NOT NULL UNIQUE, person text NOT NULL,
                        sha256 text NOT NULL, size bigint NOT NULL, mtime_ns bigint NOT NULL, faces integer NOT NULL);
                    CREATE TABLE facec_faces (id bigserial PRIMARY KEY,
                        photo bigint NOT NULL REFERENCES facec_photos(id) ON DELETE CASCADE, face_index integer NOT NULL,
                        x integer NOT NULL, y integer NOT NULL, w integer NOT NULL, h integer NOT NULL,
                        left_eye_x integer, left_eye_y integer, right_eye_x integer, right_eye_y integer,
                        confidence double precision NOT NULL, embedding vector(\(wanted.dim)) NOT NULL);
                    CREATE INDEX facec_faces_photo ON facec_faces(photo);
                    """)
                for (k, v) in wanted.fields { try db.query("INSERT INTO facec_meta (key, value) VALUES ($1, $2)", [k, v]) }
            }
        }
        var fields: [String: String] = [:]
        for row in try db.query("SELECT key, value FROM facec_meta") { if let k = row[0], let v = row[1] { fields[k] = v } }
        guard let m = GalleryModel(fields: fields) else { throw FacecError(.gallery, location, "corrupt gallery: its model record is incomplete") }
        if let wanted, let why = m.mismatch(wanted) { throw FacecError(.gallery, location, why) }
        model = m
    }

    func photoStates() throws -> [String: PhotoState] {
        var out: [String: PhotoState] = [:]
        for r in try db.query("SELECT path, sha256, size, mtime_ns, faces, person FROM facec_photos") {
            out[r[0] ?? ""] = PhotoState(sha256: r[1] ?? "", size: Int64(r[2] ?? "") ?? -1, mtimeNs: Int64(r[3] ?? "") ?? -1,
                                         faces: Int(r[4] ?? "") ?? 0, person: r[5] ?? "")
        }
        return out
    }

    func put(_ photos: [PhotoRecord]) throws {
        guard !photos.isEmpty else { return }
        try db.transaction {
            for p in photos {
                try db.query("DELETE FROM facec_photos WHERE path = $1", [p.path])
                let id = try db.query("INSERT INTO facec_photos (path, person, sha256, size, mtime_ns, faces) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                                      [p.path, p.person, p.sha256, "\(p.size)", "\(p.mtimeNs)", "\(p.faces.count)"])[0][0]
                for f in p.faces {
                    let a = f.area
                    try db.query("""
                        INSERT INTO facec_faces (photo, face_index, x, y, w, h, left_eye_x, left_eye_y, right_eye_x, right_eye_y, confidence, embedding)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                        """, [id, "\(f.index)", "\(a.x)", "\(a.y)", "\(a.width)", "\(a.height)",
                              a.leftEye.map { "\($0.x)" }, a.leftEye.map { "\($0.y)" }, a.rightEye.map { "\($0.x)" }, a.rightEye.map { "\($0.y)" },
                              "\(f.confidence)", VectorText.encode(f.embedding)])
                }
            }
        }
    }

    func remove(paths: [String]) throws -> Int {
        guard !paths.isEmpty else { return 0 }
        return try db.transaction {
            var n = 0
            for p in paths { n += try db.query("DELETE FROM facec_photos WHERE path = $1 RETURNING id", [p]).count }
            return n
        }
    }

    static let faceColumns = "p.path, p.person, f.x, f.y, f.w, f.h, f.left_eye_x, f.left_eye_y, f.right_eye_x, f.right_eye_y, f.embedding::text"

    func loadFaces() throws -> FaceMatrix {
        var m = FaceMatrix(dim: model.dim)
        var last = ""
        for r in try db.query("SELECT \(Self.faceColumns) FROM facec_faces f JOIN facec_photos p ON p.id = f.photo ORDER BY p.id, f.face_index") {
            let path = r[0] ?? ""
            if path != last { m.beginPhoto(path: path, person: r[1] ?? ""); last = path }
            let e = try embedding(r[10], photo: path)
            e.withUnsafeBufferPointer { m.append(area: Self.area(r, from: 2), embedding: $0) }
        }
        return m
    }

    func embedding(_ text: String?, photo: String) throws -> [Float] {
        guard let e = VectorText.decode(text ?? ""), e.count == model.dim, e.allSatisfy({ $0.isFinite }) else {
            throw FacecError(.gallery, location, "corrupt gallery: a face of \(photo) has an unreadable embedding")
        }
        return e
    }

    static func area(_ r: [String?], from c: Int) -> FacialArea {
        func int(_ i: Int) -> Int? { r[i].flatMap { Int($0) } }
        func eye(_ i: Int) -> PixelPoint? { int(i).flatMap { x in int(i + 1).map { PixelPoint(x: x, y: $0) } } }
        return FacialArea(x: int(c) ?? 0, y: int(c + 1) ?? 0, width: int(c + 2) ?? 0, height: int(c + 3) ?? 0,
                          leftEye: eye(c + 4), rightEye: eye(c + 6))
    }

    func listing() throws -> [(path: String, person: String, faces: [FacialArea])] {
        var out: [(path: String, person: String, faces: [FacialArea])] = []
        var index: [String: Int] = [:]
        for r in try db.query("SELECT path, person FROM facec_photos ORDER BY id") {
            index[r[0] ?? ""] = out.count
            out.append((r[0] ?? "", r[1] ?? "", []))
        }
        for r in try db.query("SELECT p.path, f.x, f.y, f.w, f.h, f.left_eye_x, f.left_eye_y, f.right_eye_x, f.right_eye_y FROM facec_faces f JOIN facec_photos p ON p.id = f.photo ORDER BY p.id, f.face_index") {
            if let i = index[r[0] ?? ""] { out[i].faces.append(Self.area(r, from: 1)) }
        }
        return out
    }

    func stats() throws -> GalleryStats {
        let r = try db.query("""
            SELECT (SELECT count(*) FROM facec_photos), (SELECT count(*) FROM facec_photos WHERE faces = 0),
                   (SELECT count(*) FROM facec_faces), (SELECT count(DISTINCT person) FROM facec_photos),
                   pg_total_relation_size('facec_photos') + pg_total_relation_size('facec_faces')
            """)[0].map { Int64($0 ?? "") ?? 0 }
        return GalleryStats(photos: Int(r[0]), photosWithoutFace: Int(r[1]), faces: Int(r[2]), people: Int(r[3]), model: model, bytes: r[4])
    }

    /// Builds the HNSW index `find --search hnsw` uses for `metric`
    /// (replacing one built before with other parameters).
    func createIndex(metric: Metric, parameters: HNSWParameters) throws {
        let ops = metric == .euclidean ? "vector_l2_ops" : "vector_cosine_ops"
        try db.query("DROP INDEX IF EXISTS facec_faces_hnsw_\(ops)")
        try db.query("CREATE INDEX facec_faces_hnsw_\(ops) ON facec_faces USING hnsw (embedding \(ops)) "
                     + "WITH (m = \(parameters.m), ef_construction = \(parameters.efConstruction))")
    }
}

extension Gallery {
    /// `gallery index`: PostgreSQL galleries only.
    public static func createIndex(_ store: any GalleryStore, metric: Metric, parameters: HNSWParameters = .init()) throws {
        guard let pg = store as? PostgresGallery else {
            throw FacecError(.gallery, store.location, "an embedded gallery needs no index (it is searched exactly on all cores); HNSW indexes are for PostgreSQL galleries")
        }
        try pg.createIndex(metric: metric, parameters: parameters)
    }
}

/// pgvector's HNSW knobs: the graph's degree and build beam (`gallery index`),
/// and the search beam (`find --search hnsw`). Wider is slower and recalls more.
public struct HNSWParameters: Sendable, Equatable {
    public var m = 16
    public var efConstruction = 64
    /// nil: max(100, 2 × the rows asked for).
    public var efSearch: Int? = nil
    public init(m: Int = 16, efConstruction: Int = 64, efSearch: Int? = nil) {
        self.m = m; self.efConstruction = efConstruction; self.efSearch = efSearch
    }

    /// pgvector's limits, checked before a statement is sent.
    public func validate() -> String? {
        guard (2...100).contains(m) else { return "--m must be in 2...100 (pgvector's limits), got \(m)" }
        guard (4...1000).contains(efConstruction), efConstruction >= 2 * m else {
            return "--ef-construction must be in 4...1000 and at least 2 × m (pgvector's limits), got \(efConstruction)"
        }
        if let e = efSearch, !(1...1000).contains(e) { return "--ef-search must be in 1...1000 (pgvector's limits), got \(e)" }
        return nil
    }
}

/// Search inside PostgreSQL: the database ranks or filters with pgvector's
/// operators (cosine `<=>`, L2 `<->`; euclidean_l2 and angular rank as
/// cosine), with a margin; the survivors' distances are then
/// computed exactly as deepface does, as in memory.
final class PostgresSearcher: FaceSearcher {
    let gallery: PostgresGallery
    let mode: SearchMode
    let efSearch: Int?
    init(gallery: PostgresGallery, mode: SearchMode, efSearch: Int?) { self.gallery = gallery; self.mode = mode; self.efSearch = efSearch }

    func search(_ queries: [[Float]], metric: Metric, threshold: Double?, top: Int?) throws -> [[FoundFace]] {
        try queries.map { try searchOne($0, metric: metric, threshold: threshold, top: top) }
    }

    private func searchOne(_ q: [Float], metric: Metric, threshold: Double?, top: Int?) throws -> [FoundFace] {
        let op = metric == .euclidean ? "<->" : "<=>"
        let distance = "(f.embedding \(op) $1::vector)"
        let select = "SELECT \(PostgresGallery.faceColumns), f.id, \(distance) FROM facec_faces f JOIN facec_photos p ON p.id = f.photo"
        let vector = VectorText.encode(q)
        /// How far pgvector's float32 distance may be from deepface's (a wide margin, as in memory).
        func slack(_ d: Double) -> Double { metric == .euclidean ? 1e-4 * d + 1e-4 : 1e-4 }
        /// The database's distance of `t` (euclidean_l2 and angular rank as
        /// cosine: ‖â − b̂‖² = 2 − 2 cos, angular = arccos(cos) / π).
        func databaseDistance(_ t: Double) -> Double {
            switch metric {
            case .euclideanL2: return t * t / 2
            case .angular: return ExactSearch.cosineDistance(ofAngular: t)
            case .cosine, .euclidean: return t
            }
        }
        func fetch(within bound: Double?, limit: Int?) throws -> [[String?]] {
            var sql = select, params = [vector]
            if let bound { sql += " WHERE \(distance) <= $2::float8"; params.append("\(bound)") }
            sql += " ORDER BY \(distance), f.id"
            if let limit { sql += " LIMIT \(limit)" }
            return try gallery.db.transaction {
                if mode == .exact {
                    // Exact: a sequential scan, whatever indexes exist.
                    try gallery.db.query("SET LOCAL enable_indexscan = off")
                    try gallery.db.query("SET LOCAL enable_bitmapscan = off")
                } else {
                    try gallery.db.query("SET LOCAL hnsw.ef_search = \(efSearch ?? min(1000, max(100, 2 * (limit ?? 100))))")
                }
                return try gallery.db.query(sql, params)
            }
        }
        var rows: [[String?]]
        if let t = threshold, mode == .exact {
            // The database's float32 distance against the threshold, with a margin.
            let d = databaseDistance(t)
            rows = try fetch(within: d + slack(d), limit: nil)
        } else {
            // Ranking needs a count: K and spare rows. The index (hnsw) is approximate anyway.
            let k = top ?? 100, limit = k + ExactSearch.rankMargin
            rows = try fetch(within: nil, limit: limit)
            // Exact: every row whose database distance is within twice the
            // margin of the K-th one may be among deepface's K nearest. When
            // the spare rows do not reach past that band, fetch the whole band.
            if mode == .exact, rows.count == limit, let dk = Double(rows[k - 1][12] ?? ""), let last = Double(rows[limit - 1][12] ?? ""),
               last <= dk + 2 * slack(dk) {
                rows = try fetch(within: dk + 2 * slack(dk), limit: nil)
            }
        }
        var found: [(FoundFace, Int64)] = []
        for r in rows {
            let path = r[0] ?? ""
            let e = try gallery.embedding(r[10], photo: path)
            let d = Distance.distance(q, e, metric: metric)
            if let t = threshold, !(d <= t) { continue }
            found.append((FoundFace(path: path, person: r[1] ?? "", area: PostgresGallery.area(r, from: 2), distance: d), Int64(r[11] ?? "") ?? 0))
        }
        found.sort { $0.0.distance != $1.0.distance ? $0.0.distance < $1.0.distance : $0.1 < $1.1 }
        if let top, found.count > top { found.removeLast(found.count - top) }
        return found.map(\.0)
    }
}

/// pgvector's text form: [1.5,2,3].
enum VectorText {
    static func encode(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }
    static func decode(_ s: String) -> [Float]? {
        guard s.hasPrefix("["), s.hasSuffix("]") else { return nil }
        var out: [Float] = []
        for part in s.dropFirst().dropLast().split(separator: ",") {
            guard let x = Float(part) else { return nil }
            out.append(x)
        }
        return out
    }
}
