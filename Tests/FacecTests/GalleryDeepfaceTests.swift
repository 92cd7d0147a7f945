import Foundation
import Testing

/// `facec find` against deepface's own `find` (deepface 0.0.103, DeepID with
/// the demo's random weights, opencv detector; Fixtures/find/expected.json
/// from scripts/fixtures/generate_find.py): the same identities in the same
/// order, the same source and target areas, distances within 1e-5, for every
/// metric, a custom threshold, k and similarity search; on both stores.
@Suite(.enabled(if: TestPaths.facesAvailable, "../shared/faces is needed"))
struct GalleryDeepfaceTests {
    struct Area: Decodable, Equatable { let x, y, w, h: Int }
    struct Row: Decodable { let identity: String; let target: Area; let distance: Double }
    struct Face: Decodable { let source: Area; let threshold: Double; let ties: Bool; let matches: [Row] }
    struct Query: Decodable {
        let query: String, metric: String
        let threshold: Double?, k: Int?
        let similarity_search: Bool
        let faces: [Face]
    }
    struct Gallery: Decodable { let file: String; let faces: [Area] }
    struct Reference: Decodable { let gallery: [Gallery]; let skipped: [String]; let queries: [Query] }

    static let reference = try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("find/expected.json"))))

    /// deepface's db folder: the shared photos (linked) and two photos without a face.
    static let dir = TempDir()
    static let folder: String = {
        let root = dir.path("faces")
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for name in try! FileManager.default.contentsOfDirectory(atPath: TestPaths.faces.path) where name.hasSuffix(".jpg") {
            try! FileManager.default.createSymbolicLink(atPath: "\(root)/\(name)", withDestinationPath: TestPaths.faces.appendingPathComponent(name).path)
        }
        for name in ["rgb.png", "baseline.jpg"] { try! FileManager.default.copyItem(atPath: TestPaths.fixture("images/\(name)"), toPath: "\(root)/\(name)") }
        return root
    }()

    static func name(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

    @Test(arguments: GalleryBackend.available)
    func findAgreesWithDeepface(backend: GalleryBackend) throws {
        let dir = TempDir()
        let g = try backend.newGallery(in: dir)
        let add = try facec(["gallery", "add", GalleryCLITests.model, g, Self.folder])
        #expect(add.status == 0, "\(add.stderr)")
        // The gallery holds deepface's faces, plus the WebP deepface skips.
        let listed = try facec(["gallery", "list", g, "--json"])
        var stored: [String: [Area]] = [:]
        for line in try DetectionCLITests.lines(listed) {
            let areas = (line["facial_areas"] as? [[String: Any]] ?? []).map { Area(x: $0["x"] as! Int, y: $0["y"] as! Int, w: $0["w"] as! Int, h: $0["h"] as! Int) }
            stored[Self.name(line["path"] as! String)] = areas
        }
        for entry in Self.reference.gallery { #expect(stored[entry.file] == entry.faces, "\(entry.file)") }
        #expect(Set(stored.keys).subtracting(Self.reference.gallery.map(\.file)) == Set(Self.reference.skipped))

        for q in Self.reference.queries {
            var args = ["find", GalleryCLITests.model, TestPaths.faces.appendingPathComponent(q.query).path, "--gallery", g, "--metric", q.metric]
            if let t = q.threshold { args += ["--threshold", "\(t)"] }
            // One more than k: the skipped WebP may take a place that deepface gives to another photo.
            if let k = q.k { args += ["--top", "\(k + Self.reference.skipped.count)"] }
            if q.similarity_search { args.append("--similarity") }
            let r = try facec(args)
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try DetectionCLITests.lines(r)
            let label = "\(q.query) \(q.metric) threshold \(String(describing: q.threshold)) k \(String(describing: q.k))"
            for (i, face) in q.faces.enumerated() {
                var mine = rows.filter { $0["face_index"] as? Int == i && !Self.reference.skipped.contains(Self.name($0["identity"] as! String)) }
                if let k = q.k { mine = Array(mine.prefix(k)) }
                #expect(mine.count == face.matches.count, "\(label) face \(i): \(mine.count) matches, deepface \(face.matches.count)")
                for m in mine {
                    #expect(Area(x: m["source_x"] as! Int, y: m["source_y"] as! Int, w: m["source_w"] as! Int, h: m["source_h"] as! Int) == face.source, "\(label) face \(i)")
                    #expect(m["threshold"] as? Double == face.threshold, "\(label)")
                }
                var got = mine.map { Row(identity: Self.name($0["identity"] as! String),
                                         target: Area(x: $0["target_x"] as! Int, y: $0["target_y"] as! Int, w: $0["target_w"] as! Int, h: $0["target_h"] as! Int),
                                         distance: $0["distance"] as! Double) }
                var want = face.matches
                if face.ties {
                    // pandas' sort is not stable: equal distances in any order.
                    func order(_ a: Row, _ b: Row) -> Bool { a.distance != b.distance ? a.distance < b.distance : (a.identity, a.target.x, a.target.y) < (b.identity, b.target.x, b.target.y) }
                    got.sort(by: order); want.sort(by: order)
                }
                for (a, b) in zip(got, want) {
                    #expect(a.identity == b.identity && a.target == b.target, "\(label) face \(i): \(a.identity) \(a.target) where deepface has \(b.identity) \(b.target)")
                    #expect(abs(a.distance - b.distance) <= 1e-5, "\(label) face \(i) \(a.identity): distance \(a.distance), deepface \(b.distance)")
                }
            }
            #expect(Set(rows.compactMap { $0["face_index"] as? Int }).isSubset(of: Set(q.faces.indices)), "\(label): faces beyond deepface's")
        }
    }
}
