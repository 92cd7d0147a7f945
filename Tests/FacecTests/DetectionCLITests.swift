import Foundation
import Testing
import FacecDetect
import FacecFormat
import FacecImage
import FacecImporters
import FacecPipeline

/// The photo pipeline as users run it (`facec convert --detector opencv`,
/// `run`, `detect`, `verify`), against what deepface 0.0.103 itself gives on
/// the same photos (Fixtures/detection, scripts/fixtures/generate_detection.py).
@Suite(.enabled(if: TestPaths.facesAvailable, "../shared/faces is needed"))
struct DetectionCLITests {
    struct Pair: Decodable {
        let file_x: String, file_y: String
        let distance: Double
        let verified: Bool
        let facial_areas: [String: DetectionTests.Expected.Area]
    }
    struct Reference: Decodable {
        struct Cascades: Decodable { let sha256: [String: String] }
        let cascades: Cascades
        let verify_pairs: [Pair]
    }
    struct NoFace: Decodable {
        let enforced_error: String
        let facial_area: DetectionTests.Expected.Area
        let face_confidence: Double
        let embedding: [Float]
    }

    static let reference: Reference = try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("detection/expected.json"))))
    static let noFace: [String: NoFace] = try! JSONDecoder().decode([String: NoFace].self, from: Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("detection/no_face.json"))))
    static func photo(_ name: String) -> DetectionTests.Expected.Photo { DetectionTests.expected!.photos.first { $0.file == name }! }
    static func face(_ name: String) -> String { TestPaths.faces.appendingPathComponent(name).path }

    /// The demo DeepID model with deepface's detector, converted once by the CLI.
    static let dir = TempDir()
    static let model: String = {
        let out = dir.path("deepid-detector.fgraph")
        let r = try! facec(["convert", TestPaths.demoWeights, "--detector", "opencv", "-o", out])
        precondition(r.status == 0, r.stderr)
        return out
    }()

    /// JSON lines of stdout.
    static func lines(_ r: CLIResult) throws -> [[String: Any]] {
        try r.stdout.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    static func area(_ any: Any?) -> DetectionTests.Expected.Area? {
        guard let d = any as? [String: Any], let data = try? JSONSerialization.data(withJSONObject: d) else { return nil }
        return try? JSONDecoder().decode(DetectionTests.Expected.Area.self, from: data)
    }

    static func floats(_ any: Any?) -> [Float] { (any as? [NSNumber] ?? []).map(\.floatValue) }

    @Test func convertedModelCarriesDeepfacesCascades() throws {
        let inspect = try facec(["inspect", Self.model])
        #expect(inspect.status == 0)
        #expect(inspect.stdout.contains("detector   opencv: faces 24x24 window, 25 stages, 2913 stumps (scale 1.1, neighbours 10); eyes 20x20 window, 24 stages, 1066 stumps"), "\(inspect.stdout)")
        // The very files deepface's reference ran with (Debian's opencv-data and OpenCV's wheel ship the same).
        for (file, sha) in Self.reference.cascades.sha256 { #expect(inspect.stdout.contains("\(file) sha256 \(sha)"), "\(file)") }
        let json = try #require(JSONSerialization.jsonObject(with: Data(try facec(["inspect", Self.model, "--json"]).stdout.utf8)) as? [String: Any])
        #expect((json["detector"] as? [String: Any])?["kind"] as? String == "opencv")
        #expect(json["format_version"] as? String == "1.\(Preamble.currentMinor)")
        let check = try facec(["check", Self.model])
        #expect(check.status == 0 && check.stdout.hasPrefix("ok: "), "\(check.stderr)")
    }

    @Test func detectGivesDeepfacesFacesAndCrops() throws {
        let names = ["couple.jpg", "selfie-many-people.jpg", "img47.jpg"]   // two faces, five faces, a WebP
        let crops = TempDir()
        let r = try facec(["detect", Self.model] + names.map(Self.face) + ["--json", "--crops", crops.path("crops"), "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try Self.lines(r)
        let expected = names.flatMap { n in (Self.photo(n).faces ?? []).enumerated().map { (n, $0.offset, $0.element) } }
        #expect(lines.count == expected.count)
        for (line, (name, k, e)) in zip(lines, expected) {
            #expect(line["input"] as? String == Self.face(name))
            #expect(line["face_index"] as? Int == k)
            #expect(Self.area(line["facial_area"]) == e.facial_area, "\(name) face \(k)")
            #expect(line["face_confidence"] as? Double == e.face_confidence)
            // The crop a person looks at is the one deepface feeds its network.
            let path = try #require(line["crop"] as? String)
            #expect(path.hasSuffix("/\(name.split(separator: ".")[0])_face\(k).png"))
            let crop = try ImageDecoder.decodeFile(path)
            #expect(DetectionTests.bgrSHA256(crop) == e.crop_sha256, "\(name) face \(k): crop differs from deepface's")
        }
        let text = try facec(["detect", Self.model, Self.face("couple.jpg")])
        #expect(text.stdout.split(separator: "\n").count == 2 && text.stdout.contains("face 1  x=326 y=542 w=758 h=758  left_eye=(833,819) right_eye=(553,860)  confidence=0.92"), "\(text.stdout)")
    }

    @Test func runPrintsEveryFaceInDeepfacesOrder() throws {
        let names = ["selfie-many-people.jpg", "couple.jpg", "img44.jpg"]
        let dir = TempDir()
        let r = try facec(["run", Self.model] + names.map(Self.face) + ["--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try Self.lines(r)
        let expected = names.flatMap { n in (Self.photo(n).faces ?? []).enumerated().map { (n, $0.offset, $0.element) } }
        #expect(lines.count == expected.count)
        var all: [Float] = []
        for (line, (name, k, e)) in zip(lines, expected) {
            #expect(line["input"] as? String == Self.face(name) && line["face_index"] as? Int == k)
            #expect(Self.area(line["facial_area"]) == e.facial_area, "\(name) face \(k)")
            #expect(line["face_confidence"] as? Double == e.face_confidence)
            let embedding = Self.floats(line["embedding"])
            #expect(line["dim"] as? Int == 160)
            #expect(cosineSimilarity(embedding, e.embedding) >= 0.9999, "\(name) face \(k)")
            all += embedding
        }
        // --npy: one row per face, the same numbers.
        let npy = dir.path("faces.npy")
        #expect(try facec(["run", Self.model] + names.map(Self.face) + ["--npy", npy]).status == 0)
        let file = try NPYFile.read(npy)
        #expect(file.shape == [expected.count, 160])
        #expect(file.values == all)
    }

    @Test func verifyTakesTheClosestPairOfFacesAsDeepfaceDoes() throws {
        // Pairs with a multi-face photo: the chosen faces are deepface's.
        let multi = Set(["couple.jpg", "img26.jpg", "img44.jpg", "img8.jpg", "selfie-many-people.jpg"])
        let pairs = Self.reference.verify_pairs.filter { multi.contains($0.file_x) || multi.contains($0.file_y) }.prefix(4)
        #expect(pairs.count == 4)
        for p in pairs {
            let r = try facec(["verify", Self.model, Self.face(p.file_x), Self.face(p.file_y)])
            #expect(r.status == 0, "\(r.stderr)")
            let json = try #require(try Self.lines(r).first)
            let areas = try #require(json["facial_areas"] as? [String: Any])
            #expect(Self.area(areas["img1"]) == p.facial_areas["img1"], "\(p.file_x) \(p.file_y)")
            #expect(Self.area(areas["img2"]) == p.facial_areas["img2"], "\(p.file_x) \(p.file_y)")
            let d = try #require(json["distance"] as? Double)
            #expect(abs(d - p.distance) <= 2e-6, "\(p.file_x) \(p.file_y): \(d) vs deepface \(p.distance)")
            #expect(json["verified"] as? Bool == p.verified)
        }
    }

    @Test func pairsModeMatchesDeepfaceOnMasterCSV() throws {
        let dir = TempDir()
        let out = dir.path("pairs.csv")
        let r = try facec(["verify", Self.model, "--pairs", TestPaths.faces.appendingPathComponent("master.csv").path, "-o", out, "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(rows.count == Self.reference.verify_pairs.count)
        var worst = 0.0
        for (row, p) in zip(rows, Self.reference.verify_pairs) {
            #expect(row[0] == p.file_x && row[1] == p.file_y)
            let d = try #require(Double(row[2]))
            worst = max(worst, abs(d - p.distance))
            #expect(row[4] == (p.verified ? "true" : "false"), "\(p.file_x) \(p.file_y)")
        }
        // deepface rounds distances to 6 decimals; facec's agree to that rounding.
        #expect(worst <= 2e-6, "largest distance difference \(worst)")
    }

    @Test(arguments: ["rgb.png", "baseline.jpg"])
    func photosWithoutAFaceAreAnErrorUnlessNotEnforced(_ name: String) throws {
        let path = TestPaths.fixture("images/" + name)
        let expected = try #require(Self.noFace[name])
        #expect(expected.enforced_error.hasPrefix("Face could not be detected"))
        for command in [["run"], ["detect"]] {
            expectFailure(try facec(command + [Self.model, path]), mentioning: "\(path): no face detected")
        }
        expectFailure(try facec(["verify", Self.model, path, Self.face("img1.jpg")]), mentioning: "no face detected")
        // enforce_detection=False: the whole photo, as deepface reports and embeds it.
        let r = try facec(["run", Self.model, path, "--no-enforce-detection"])
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(try Self.lines(r).first)
        #expect(Self.area(line["facial_area"]) == expected.facial_area)
        #expect(line["face_confidence"] as? Double == expected.face_confidence)
        #expect(cosineSimilarity(Self.floats(line["embedding"]), expected.embedding) >= 0.9999)
        // In pairs mode a photo without a face counts as a bad image.
        let dir = TempDir()
        let csv = dir.path("pairs.csv")
        try "file_x,file_y\n\(path),\(Self.face("img1.jpg"))\n".write(toFile: csv, atomically: true, encoding: .utf8)
        expectFailure(try facec(["verify", Self.model, "--pairs", csv]), mentioning: "1 of 2 images could not be used")
    }

    @Test func badOptionsFailCleanly() throws {
        let dir = TempDir()
        let plain = dir.path("plain.fgraph")
        #expect(try facec(["convert", TestPaths.demoWeights, "-o", plain]).status == 0)
        let photo = Self.face("img1.jpg")
        expectFailure(try facec(["run", plain, photo, "--detector", "opencv"]), mentioning: "carries no face detector")
        expectFailure(try facec(["detect", plain, photo]), mentioning: "carries no face detector")
        expectFailure(try facec(["run", Self.model, photo, "--detector", "mtcnn"]), mentioning: "mtcnn")
        expectFailure(try facec(["run", Self.model, photo, "--threads", "0"]), mentioning: "--threads")
        expectFailure(try facec(["detect", Self.model]), mentioning: "photo")
        expectFailure(try facec(["convert", TestPaths.demoWeights, "--face-cascade", "x.xml", "-o", dir.path("a.fgraph")]), mentioning: "--detector opencv")
        expectFailure(try facec(["convert", TestPaths.demoWeights, "--detector", "opencv", "--eye-cascade", dir.path("none.xml"), "-o", dir.path("a.fgraph")]),
                      mentioning: dir.path("none.xml"))
        #expect(!dir.files.contains("a.fgraph"))
        // A model without a detector still takes crops, and skip takes whole photos with a detector model.
        let skip = try facec(["run", Self.model, photo, "--detector", "skip"])
        let line = try #require(try Self.lines(skip).first)
        #expect(Self.area(line["facial_area"]) == DetectionTests.Expected.Area(x: 0, y: 0, w: 1382, h: 1868, left_eye: nil, right_eye: nil))
    }

    @Test func hostilePhotosGetAnErrorOrNoFaceQuickly() throws {
        let dir = TempDir()
        func png(_ name: String, _ w: Int, _ h: Int, _ value: UInt8) throws -> String {
            let path = dir.path(name)
            let bytes = try PNGEncoder.encode(DecodedImage(width: w, height: h, pixels: [UInt8](repeating: value, count: w * h * 3)))
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return path
        }
        let start = Date()
        for path in [try png("thin.png", 1, 100_000, 128), try png("wide.png", 100_000, 1, 128), try png("black.png", 2000, 1500, 0)] {
            expectFailure(try facec(["detect", Self.model, path]), mentioning: "\(path): no face detected")
            let r = try facec(["run", Self.model, path, "--no-enforce-detection"])
            #expect(r.status == 0 && r.stdout.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        for (file, text) in [("images/huge_dims.png", "60000x60000"), ("images/truncated.webp", "WebP"), ("images/truncated.jpg", "truncated"),
                             ("images/gif_named.jpg", "GIF")] {
            expectFailure(try facec(["detect", Self.model, TestPaths.fixture(file)]), mentioning: text)
        }
        #expect(Date().timeIntervalSince(start) < 60)
    }

    /// A model file whose cascade lets every window through every stage (checksums
    /// and structure valid): detection stops with an error, in bounded time.
    @Test func aHostileCascadeIsStopped() throws {
        let dir = TempDir()
        var header = try ModelFile(path: Self.model).header
        var spec = try #require(header.detector)
        spec.face.stages = (0..<100).map { _ in HaarCascade.Stage(count: 1000, threshold: -1e30) }
        spec.face.stumps = (0..<100_000).map { HaarCascade.Stump(feature: $0 % spec.face.features.count, threshold: 0, left: 1, right: 1) }
        header.detector = spec
        let out = dir.path("hostile.fgraph")
        let producers: [ModelWriter.TensorProducer] = header.tensors.map { t in { sink in
            try [Float](repeating: 0, count: t.elementCount).withUnsafeBufferPointer { try sink($0) }
        } }
        try ModelWriter.write(header: header, producers: producers, to: out)
        let start = Date()
        expectFailure(try facec(["detect", out, Self.face("img1.jpg")]), mentioning: "detection stopped")
        #expect(Date().timeIntervalSince(start) < 20)
    }
}

/// Cascade files that are malformed or of a kind facec does not run are
/// refused at conversion with one line naming the file.
@Suite struct CascadeFileTests {
    static let debian = OpenCVCascade.debianDirectory + "/"
    static let defaultXML = try! String(contentsOfFile: debian + OpenCVCascade.faceFile, encoding: .utf8)

    /// The default cascade with one piece of text replaced.
    static func mutated(_ dir: TempDir, _ name: String, _ from: String, _ to: String) -> String {
        precondition(defaultXML.contains(from), from)
        let path = dir.path(name)
        try! defaultXML.replacingOccurrences(of: from, with: to, options: [], range: defaultXML.range(of: from))
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func refused(_ path: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try OpenCVCascade.load(path: path)
            Issue.record("accepted \(path)", sourceLocation: sourceLocation)
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix(path + ": ") && message.contains(text) && !message.contains("\n"), "\(message)", sourceLocation: sourceLocation)
        }
    }

    @Test func refusesMalformedAndUnsupportedCascades() throws {
        let dir = TempDir()
        let bytes = Array(Self.defaultXML.utf8)
        _ = FileManager.default.createFile(atPath: dir.path("half.xml"), contents: Data(bytes.prefix(bytes.count / 2)))
        refused(dir.path("half.xml"), "not a valid XML cascade")
        _ = FileManager.default.createFile(atPath: dir.path("empty.xml"), contents: Data())
        refused(dir.path("empty.xml"), "not a valid XML cascade")
        _ = FileManager.default.createFile(atPath: dir.path("binary.xml"), contents: Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }))
        refused(dir.path("binary.xml"), "not a valid XML cascade")
        refused(dir.path("missing.xml"), "no such file")
        refused(Self.mutated(dir, "window.xml", "<width>24</width>", "<width>2000</width>"), "window")
        refused(Self.mutated(dir, "nan.xml", "<stageThreshold>", "<stageThreshold>nan "), "not a number")
        refused(Self.mutated(dir, "huge.xml", "<stageThreshold>", "<stageThreshold>1e999 "), "not a number")
        refused(Self.mutated(dir, "rect.xml", "<_>\n          6 4 12 9 -1.</_>", "<_>\n          20 4 12 9 -1.</_>"), "outside the 24×24 window")
        refused(Self.mutated(dir, "lbp.xml", "<featureType>HAAR</featureType>", "<featureType>LBP</featureType>"), "feature type 'LBP'")
        refused(Self.mutated(dir, "hog.xml", "<stageType>BOOST</stageType>", "<stageType>GAB</stageType>"), "stage type")
        // Debian's own files of kinds deepface's detector does not use.
        refused("/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml", "feature type 'LBP'")
        refused(Self.debian + "haarcascade_frontalface_alt2.xml", "tree of 2 splits")
        refused(Self.debian + "haarcascade_fullbody.xml", "tilted")
        refused(Self.debian + "haarcascade_licence_plate_rus_16stages.xml", "old-format")
        // Stump cascades in the current format are read, with or without type_id.
        for name in ["haarcascade_frontalface_alt.xml", "haarcascade_profileface.xml", "haarcascade_frontalcatface.xml"] {
            #expect(try OpenCVCascade.load(path: Self.debian + name).stumps.count > 100, "\(name)")
        }
    }

    @Test func convertRefusesABadCascadeAndWritesNothing() throws {
        let dir = TempDir()
        let bad = Self.mutated(dir, "lbp.xml", "<featureType>HAAR</featureType>", "<featureType>LBP</featureType>")
        expectFailure(try facec(["convert", TestPaths.demoWeights, "--detector", "opencv", "--face-cascade", bad, "-o", dir.path("m.fgraph")]),
                      mentioning: "\(bad): feature type 'LBP'")
        #expect(!dir.files.contains { $0.hasSuffix(".fgraph") || $0.contains(".tmp.") })
    }
}

/// The README's photos (committed in Weights/, so this runs everywhere):
/// facec's faces, crops and embeddings are deepface's (Fixtures/detection/demo.json).
@Suite struct DemoPhotoTests {
    struct Face: Decodable {
        let facial_area: DetectionTests.Expected.Area
        let face_confidence: Double
        let crop_sha256: String
        let embedding: [Float]
    }

    @Test func demoPhotosGiveDeepfacesFaces() throws {
        let expected = try JSONDecoder().decode([String: [Face]].self, from: Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("detection/demo.json"))))
        let names = expected.keys.sorted()
        let paths = names.map { TestPaths.repo.appendingPathComponent("Weights/" + $0).path }
        let dir = TempDir()
        let detect = try facec(["detect", DetectionCLITests.model] + paths + ["--json", "--crops", dir.path("crops")])
        let run = try facec(["run", DetectionCLITests.model] + paths)
        #expect(detect.status == 0 && run.status == 0, "\(detect.stderr) \(run.stderr)")
        let faces = names.flatMap { expected[$0]! }
        let detected = try DetectionCLITests.lines(detect), embedded = try DetectionCLITests.lines(run)
        #expect(detected.count == faces.count && embedded.count == faces.count)
        #expect(faces.count == 4)   // two in demo-couple.jpg
        for (k, e) in faces.enumerated() where k < detected.count && k < embedded.count {
            #expect(DetectionCLITests.area(detected[k]["facial_area"]) == e.facial_area)
            #expect(DetectionCLITests.area(embedded[k]["facial_area"]) == e.facial_area)
            #expect(detected[k]["face_confidence"] as? Double == e.face_confidence)
            let crop = try ImageDecoder.decodeFile(try #require(detected[k]["crop"] as? String))
            #expect(DetectionTests.bgrSHA256(crop) == e.crop_sha256)
            #expect(cosineSimilarity(DetectionCLITests.floats(embedded[k]["embedding"]), e.embedding) >= 0.9999)
        }
    }
}
