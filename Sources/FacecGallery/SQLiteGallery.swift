import CSQLite
import FacecCore
import FacecFormat
import FacecDetect
import FacecSearchKernels
#if canImport(Glibc)
import Glibc
#endif

/// The embedded gallery: one SQLite file. Write-ahead logging lets `find`
/// read while `gallery add` writes; each batch of whole photos is one
/// transaction, so a killed run leaves the gallery as it was or with whole
/// photos added. Embeddings are little-endian float32 blobs.
final class SQLiteGallery: GalleryStore {
    /// 'fcgl' in the file header (PRAGMA application_id): tells a facec
    /// gallery from any other SQLite file.
    static let applicationID: Int32 = 0x6663_676C
    static let schemaVersion = 1

    let location: String
    private(set) var model: GalleryModel
    private let db: SQLiteConnection

    init(path: String, model wanted: GalleryModel?, create: Bool) throws {
        location = path
        var st = stat()
        let exists = stat(path, &st) == 0
        if exists && FileKind(mode: st.st_mode) != .regular {
            throw FacecError(.gallery, path, "is \(FileKind(mode: st.st_mode).noun), not a gallery file")
        }
        guard exists || create else { throw FacecError(.gallery, path, "no such gallery (create it with 'facec gallery add MODEL \(path) PHOTOS...')") }
        let db = try SQLiteConnection(path: path, create: create)
        self.db = db
        if create { try Self.useWriteAheadLog(db) }
        try db.execute("PRAGMA synchronous = NORMAL")
        try db.execute("PRAGMA foreign_keys = ON")
        // Two `gallery add`s may create one new gallery at once: the schema
        // is made inside a write transaction (BEGIN IMMEDIATE waits for the
        // lock), so the second finds the first's gallery instead of racing it.
        // (Only when creating: a reader such as `find` takes no write lock.)
        let created = try create && db.transaction { () throws -> Bool in
            guard try Self.isEmptyDatabase(db) else { return false }
            guard let wanted else { throw FacecError(.gallery, path, "no model to create the gallery for") }
            try Self.createSchema(db, model: wanted)
            return true
        }
        if created, let wanted {
            model = wanted
            return
        }
        model = try Self.readModel(db, path: path)
        if let wanted, let why = model.mismatch(wanted) { throw FacecError(.gallery, path, why) }
    }

    /// Write-ahead logging (persistent in the file), so `find` reads while
    /// `gallery add` writes. Switching takes an exclusive lock, and SQLite
    /// answers "database is locked" at once, without its busy timeout, when
    /// another process (a second `gallery add` creating the same gallery)
    /// holds one: retried for up to the same 10 s.
    private static func useWriteAheadLog(_ db: SQLiteConnection) throws {
        if try Self.journalMode(db) == "wal" { return }
        var waited = 0
        while true {
            do { return try db.execute("PRAGMA journal_mode = WAL") } catch {
                guard waited < 10_000, sqlite3_errcode(db.handle) == SQLITE_BUSY || sqlite3_errcode(db.handle) == SQLITE_LOCKED else { throw error }
            }
            usleep(10_000)
            waited += 10
        }
    }

    /// (Its own function: the statement must be finished before the mode can change.)
    private static func journalMode(_ db: SQLiteConnection) throws -> String {
        let mode = try db.prepare("PRAGMA journal_mode")
        return try mode.step() ? mode.text(0) : ""
    }

    /// A new (or zero-length) database: no tables and no application id yet.
    private static func isEmptyDatabase(_ db: SQLiteConnection) throws -> Bool {
        let tables = try db.prepare("SELECT count(*) FROM sqlite_master")
        guard try tables.step(), tables.int(0) == 0 else { return false }
        let id = try db.prepare("PRAGMA application_id")
        return try id.step() && id.int(0) == 0
    }

    /// The tables and the model record; inside the caller's transaction.
    private static func createSchema(_ db: SQLiteConnection, model: GalleryModel) throws {
        try db.execute("PRAGMA application_id = \(applicationID)")
        try db.execute("PRAGMA user_version = \(schemaVersion)")
        try db.execute("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, person TEXT NOT NULL,
                sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, faces INTEGER NOT NULL);
            CREATE TABLE faces (id INTEGER PRIMARY KEY, photo INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
                face_index INTEGER NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
                left_eye_x INTEGER, left_eye_y INTEGER, right_eye_x INTEGER, right_eye_y INTEGER,
                confidence REAL NOT NULL, embedding BLOB NOT NULL);
            CREATE INDEX faces_photo ON faces(photo);
            """)
        let put = try db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)")
        for (k, v) in model.fields + [("schema", "\(schemaVersion)")] { try put.bind(.text(k), .text(v)).run() }
    }

    private static func readModel(_ db: SQLiteConnection, path: String) throws -> GalleryModel {
        let id = try db.prepare("PRAGMA application_id")
        guard try id.step(), Int32(truncatingIfNeeded: id.int(0)) == applicationID else {
            throw FacecError(.gallery, path, "not a facec gallery (an SQLite file of something else)")
        }
        let version = try db.prepare("PRAGMA user_version")
        guard try version.step(), version.int(0) == Int64(schemaVersion) else {
            throw FacecError(.gallery, path, "gallery schema version \(try version.step() ? version.int(0) : -1) is not \(schemaVersion), which this facec reads")
        }
        var fields: [String: String] = [:]
        let s = try db.prepare("SELECT key, value FROM meta")
        while try s.step() { fields[s.text(0)] = s.text(1) }
        guard let m = GalleryModel(fields: fields) else { throw FacecError(.gallery, path, "corrupt gallery: its model record is incomplete") }
        return m
    }

    func photoStates() throws -> [String: PhotoState] {
        var out: [String: PhotoState] = [:]
        let s = try db.prepare("SELECT path, sha256, size, mtime_ns, faces, person FROM photos")
        while try s.step() {
            out[s.text(0)] = PhotoState(sha256: s.text(1), size: s.int(2), mtimeNs: s.int(3), faces: Int(s.int(4)), person: s.text(5))
        }
        return out
    }

    func put(_ photos: [PhotoRecord]) throws {
        guard !photos.isEmpty else { return }
        try db.transaction {
            let drop = try db.prepare("DELETE FROM photos WHERE path = ?")
            let photo = try db.prepare("INSERT INTO photos (path, person, sha256, size, mtime_ns, faces) VALUES (?, ?, ?, ?, ?, ?)")
            let face = try db.prepare("""
                INSERT INTO faces (photo, face_index, x, y, w, h, left_eye_x, left_eye_y, right_eye_x, right_eye_y, confidence, embedding)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for p in photos {
                try drop.bind(.text(p.path)).run()
                try photo.bind(.text(p.path), .text(p.person), .text(p.sha256), .int(p.size), .int(p.mtimeNs), .int(Int64(p.faces.count))).run()
                let id = db.lastInsertRowID
                for f in p.faces {
                    precondition(f.embedding.count == model.dim)
                    let a = f.area
                    func opt(_ v: Int?) -> SQLiteValue { v.map { .int(Int64($0)) } ?? .null }
                    try face.bind(.int(id), .int(Int64(f.index)), .int(Int64(a.x)), .int(Int64(a.y)), .int(Int64(a.width)), .int(Int64(a.height)),
                                  opt(a.leftEye?.x), opt(a.leftEye?.y), opt(a.rightEye?.x), opt(a.rightEye?.y),
                                  .double(f.confidence), .blob(EmbeddingBytes.encode(f.embedding))).run()
                }
            }
        }
    }

    func remove(paths: [String]) throws -> Int {
        guard !paths.isEmpty else { return 0 }
        return try db.transaction {
            let s = try db.prepare("DELETE FROM photos WHERE path = ?")
            var n = 0
            for p in paths {
                try s.bind(.text(p)).run()
                n += Int(sqlite3_changes(db.handle))
            }
            return n
        }
    }

    func loadFaces() throws -> FaceMatrix {
        var m = FaceMatrix(dim: model.dim)
        let count = try db.prepare("SELECT count(*) FROM faces")
        if try count.step() { m.reserve(faces: Int(count.int(0))) }
        // One read transaction: a concurrent add cannot tear the snapshot.
        try db.execute("BEGIN")
        defer { try? db.execute("COMMIT") }
        let s = try db.prepare("""
            SELECT p.id, p.path, p.person, f.x, f.y, f.w, f.h, f.left_eye_x, f.left_eye_y, f.right_eye_x, f.right_eye_y, f.embedding
            FROM faces f JOIN photos p ON p.id = f.photo ORDER BY p.id, f.face_index
            """)
        var lastPhoto: Int64 = -1
        while try s.step() {
            let id = s.int(0)
            if id != lastPhoto { m.beginPhoto(path: s.text(1), person: s.text(2)); lastPhoto = id }
            let blob = s.blob(11)
            guard blob.count == model.dim * 4 else {
                throw FacecError(.gallery, location, "corrupt gallery: a face of \(s.text(1)) has a \(blob.count)-byte embedding, not \(model.dim * 4)")
            }
            let area = Self.area(s, from: 3)
            try EmbeddingBytes.withFloats(blob) { floats in
                guard floats.allSatisfy({ $0.isFinite }) else {
                    throw FacecError(.gallery, location, "corrupt gallery: a face of \(s.text(1)) has a non-finite embedding")
                }
                m.append(area: area, embedding: floats)
            }
        }
        return m
    }

    private static func area(_ s: SQLiteStatement, from c: Int32) -> FacialArea {
        func eye(_ i: Int32) -> PixelPoint? { s.isNull(i) || s.isNull(i + 1) ? nil : PixelPoint(x: Int(s.int(i)), y: Int(s.int(i + 1))) }
        return FacialArea(x: Int(s.int(c)), y: Int(s.int(c + 1)), width: Int(s.int(c + 2)), height: Int(s.int(c + 3)),
                          leftEye: eye(c + 4), rightEye: eye(c + 6))
    }

    func listing() throws -> [(path: String, person: String, faces: [FacialArea])] {
        var out: [(path: String, person: String, faces: [FacialArea])] = []
        var index: [Int64: Int] = [:]
        let photos = try db.prepare("SELECT id, path, person FROM photos ORDER BY id")
        while try photos.step() { index[photos.int(0)] = out.count; out.append((photos.text(1), photos.text(2), [])) }
        let faces = try db.prepare("SELECT photo, x, y, w, h, left_eye_x, left_eye_y, right_eye_x, right_eye_y FROM faces ORDER BY photo, face_index")
        while try faces.step() { if let i = index[faces.int(0)] { out[i].faces.append(Self.area(faces, from: 1)) } }
        return out
    }

    func stats() throws -> GalleryStats {
        let s = try db.prepare("""
            SELECT (SELECT count(*) FROM photos), (SELECT count(*) FROM photos WHERE faces = 0),
                   (SELECT count(*) FROM faces), (SELECT count(DISTINCT person) FROM photos)
            """)
        _ = try s.step()
        var bytes: Int64 = 0
        for suffix in ["", "-wal"] {
            var st = stat()
            if stat(location + suffix, &st) == 0 { bytes += Int64(st.st_size) }
        }
        return GalleryStats(photos: Int(s.int(0)), photosWithoutFace: Int(s.int(1)), faces: Int(s.int(2)), people: Int(s.int(3)),
                            model: model, bytes: bytes)
    }
}

/// Embeddings as stored: little-endian float32.
enum EmbeddingBytes {
    static func encode(_ e: [Float]) -> [UInt8] {
        var out = [UInt8](); out.reserveCapacity(e.count * 4)
        for x in e { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    static func withFloats<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let n = bytes.count / 4
        return try [Float](unsafeUninitializedCapacity: n) { buf, count in
            for i in 0..<n { buf[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            count = n
        }.withUnsafeBufferPointer(body)
    }
}
