import Foundation
import Testing
import FacecCore
import FacecDetect
import FacecFormat
import FacecImage
import FacecImporters
import FacecRuntime

/// facec's MTCNN detector (deepface's "mtcnn" backend) against deepface
/// 0.0.103 + mtcnn 1.0.0 on TensorFlow themselves
/// (scripts/fixtures/generate_mtcnn.py, Fixtures/mtcnn/expected.json), on the
/// 64 shared photos: the same number of faces per photo, each box with IoU
/// ≥ 0.95 (≥ 0.99 for 95% of them), eyes within 2 px, and the tally of
/// faces whose box, eyes, confidence and aligned crop are identical to the
/// byte (the crop is what the recognition network embeds).
@Suite(.serialized) struct MTCNNFidelityTests {
    struct Expected: Decodable {
        struct Photo: Decodable {
            let file: String
            let faces: [Face]?
        }
        struct Face: Decodable {
            let facial_area: DetectionTests.Expected.Area
            let face_confidence: Double
            let crop_sha256: String
        }
        let photos: [Photo]
    }

    static let expected: Expected? = {
        guard let data = FileManager.default.contents(atPath: TestPaths.fixture("mtcnn/expected.json")) else { return nil }
        return try? JSONDecoder().decode(Expected.self, from: data)
    }()

    static func iou(_ f: DetectedFace, _ a: DetectionTests.Expected.Area) -> Double {
        let ix = max(0, min(f.x + f.width, a.x + a.w) - max(f.x, a.x)), iy = max(0, min(f.y + f.height, a.y + a.h) - max(f.y, a.y))
        let inter = Double(ix * iy), union = Double(f.width * f.height + a.w * a.h) - inter
        return union > 0 ? inter / union : 0
    }

    /// Faces are paired with deepface's by overlap, so that an order flip
    /// would be counted once (as an order difference), not as two wrong
    /// boxes. The P-Net's saturated scores are TF's to the bit (TFSoftmax) and
    /// often tie; numpy's argsort order for ties (NumpyArgsort) then decides
    /// which of two overlapping cells mtcnn's suppression keeps. With both, on
    /// a CPU of the vendor whose reciprocal estimate TF used for the fixtures,
    /// every face must be deepface's to the byte, in deepface's order; on
    /// another vendor's CPU a saturated score may move by an ulp, and the
    /// floors of the goals apply.
    @Test func sameFacesAsDeepfaceOnTheSharedPhotos() throws {
        #expect(TestPaths.facesAvailable, "../shared/faces is needed for this test")
        guard TestPaths.facesAvailable else { return }
        let expected = try #require(Self.expected, "Fixtures/mtcnn/expected.json")
        let model = try MTCNNModel.shared()
        let detector = FaceDetector(model.header.detector!, model: model.file, threads: 2)
        var total = 0, exact = 0, sameCrop = 0, above99 = 0, above95 = 0, eyesWithin2 = 0, sameOrder = 0
        var worstIoU = 1.0, worstEye = 0
        for photo in expected.photos {
            let image = try ImageDecoder.decodeFile(TestPaths.faces.appendingPathComponent(photo.file).path)
            let faces = try detector.detect(image, path: photo.file)
            let want = photo.faces ?? []
            #expect(faces.count == want.count, "\(photo.file): \(faces.count) faces, deepface \(want.count)")
            for (k, e) in want.enumerated() {
                total += 1
                guard let (j, f) = faces.enumerated().max(by: { Self.iou($0.element, e.facial_area) < Self.iou($1.element, e.facial_area) }) else { continue }
                sameOrder += j == k ? 1 : 0
                let iou = Self.iou(f, e.facial_area)
                worstIoU = min(worstIoU, iou)
                above99 += iou >= 0.99 ? 1 : 0
                above95 += iou >= 0.95 ? 1 : 0
                #expect(iou >= 0.9, "\(photo.file) face \(k): IoU \(iou)")
                var eye = 0
                for (mine, theirs) in [(f.leftEye, e.facial_area.left_eye), (f.rightEye, e.facial_area.right_eye)] {
                    guard let m = mine, let t = theirs else {
                        if mine != nil || theirs != nil { eye = Int.max }
                        continue
                    }
                    eye = max(eye, abs(m.x - t[0]), abs(m.y - t[1]))
                }
                worstEye = max(worstEye, eye)
                eyesWithin2 += eye <= 2 ? 1 : 0
                if eye > 2 || iou < 0.99 { print("mtcnn: \(photo.file) face \(k): IoU \(iou), eyes off by \(eye) px") }
                let mine: [Int] = [f.x, f.y, f.width, f.height]
                let theirs: [Int] = [e.facial_area.x, e.facial_area.y, e.facial_area.w, e.facial_area.h]
                let same = mine == theirs && f.confidence == e.face_confidence
                exact += same ? 1 : 0
                sameCrop += DetectionTests.bgrSHA256(f.crop) == e.crop_sha256 ? 1 : 0
            }
        }
        print("mtcnn fidelity: \(total) faces, \(sameOrder) in deepface's order; IoU >= 0.99: \(above99), >= 0.95: \(above95), worst \(worstIoU); eyes within 2 px: \(eyesWithin2), worst \(worstEye) px; identical box and confidence: \(exact); identical aligned crop: \(sameCrop)")
        #expect(total == 73)
        #expect(above95 == total)
        let fixtureVendor = try String(contentsOfFile: TestPaths.fixture("tfsoftmax/cpu.txt"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #if arch(x86_64)
        if TFSoftmaxTests.vendor() == fixtureVendor {
            #expect(exact == total && sameCrop == total && sameOrder == total && eyesWithin2 == total,
                    "every face identical to deepface's, in its order")
            return
        }
        #endif
        #expect(Double(above99) >= 0.95 * Double(total))
        #expect(Double(sameCrop) >= 0.9 * Double(total), "\(sameCrop) of \(total) crops identical to deepface's")
    }
}

extension MTCNNFidelityTests {
    /// Damaged or wrong weight files: one line naming the file and the fault,
    /// a non-zero exit, no model written.
    @Test(arguments: ["truncated", "garbage", "swapped", "missing", "no-lz4"])
    func damagedWeightsAreRefusedInOneLine(_ damage: String) throws {
        let source = MTCNNModel.weights
        try #require(FileManager.default.fileExists(atPath: source + "/onet.lz4"), "\(source) is missing: run scripts/fetch-weights.sh mtcnn")
        let dir = TempDir(), weights = dir.path("weights")
        try FileManager.default.createDirectory(atPath: weights, withIntermediateDirectories: true)
        for name in MTCNNWeights.files { try FileManager.default.copyItem(atPath: source + "/" + name, toPath: weights + "/" + name) }
        let onet = weights + "/onet.lz4", bytes = try Data(contentsOf: URL(fileURLWithPath: onet))
        switch damage {
        case "truncated": try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: onet))
        case "garbage": try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }).write(to: URL(fileURLWithPath: onet))
        case "swapped":
            try FileManager.default.removeItem(atPath: onet)
            try FileManager.default.copyItem(atPath: source + "/rnet.lz4", toPath: onet)
        case "missing": try FileManager.default.removeItem(atPath: onet)
        default:   // the pickle itself, not LZ4-framed, with its last byte cut
            var raw = Data([0x80, 0x04, 0x95]); raw.append(contentsOf: bytes.prefix(64)); try raw.write(to: URL(fileURLWithPath: onet))
        }
        let out = dir.path("m.fgraph")
        let r = try facec(["convert", TestPaths.fixture("deepid_keras22.h5"), "--detector", "mtcnn", "--mtcnn-weights", weights, "-o", out])
        #expect(r.status != 0, "\(damage): accepted")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("onet.lz4"), "\(damage): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out), "\(damage): a model was written")
        print("mtcnn weights \(damage): \(r.stderr.trimmingCharacters(in: .newlines))")
    }
}

extension MTCNNFidelityTests {
    /// The `detector` fuzz target's MTCNN seed is the detector facec compiles
    /// today (FACEC_WRITE_SEEDS=1 rewrites it), so the fuzzer starts from a
    /// message the loader accepts.
    @Test func detectorFuzzSeedIsTheCompiledMTCNN() throws {
        let model = try MTCNNModel.shared()
        let message = model.header.detector!.encodedMessage()
        let seed = TestPaths.repo.appendingPathComponent("Tests/Fuzz/corpus/detector/mtcnn.bin")
        if ProcessInfo.processInfo.environment["FACEC_WRITE_SEEDS"] != nil { try Data(message).write(to: seed) }
        #expect(FileManager.default.contents(atPath: seed.path) == Data(message), "\(seed.path) is stale: FACEC_WRITE_SEEDS=1 swift test --filter detectorFuzzSeed")
        let spec = try message.withUnsafeBytes { try DetectorSpec(message: $0, name: "seed") }
        #expect(spec == model.header.detector!)
    }
}

/// The small DeepID fixture with the MTCNN detector, converted once per run.
enum MTCNNModel {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var model: Model?
    private static let dir = TempDir()

    static var weights: String { JoblibReaderTests.mtcnnWeights }

    static func path() throws -> String {
        _ = try shared()
        return dir.path("deepid-mtcnn.fgraph")
    }

    static func shared() throws -> Model {
        lock.lock()
        defer { lock.unlock() }
        if let model { return model }
        try #require(FileManager.default.fileExists(atPath: weights + "/onet.lz4"), "\(weights) is missing: run scripts/fetch-weights.sh mtcnn (scripts/setup.sh does)")
        let out = dir.path("deepid-mtcnn.fgraph")
        let r = try facec(["convert", TestPaths.fixture("deepid_keras22.h5"), "--detector", "mtcnn", "--mtcnn-weights", weights, "-o", out])
        try #require(r.status == 0, "\(r.stderr)")
        let m = try Model(path: out)
        model = m
        return m
    }
}
