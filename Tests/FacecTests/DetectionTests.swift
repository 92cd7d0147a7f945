@testable import FacecDigest
import Foundation
import Testing
import FacecDetect
@testable import FacecDetectKernels
import FacecFormat
import FacecImage
import FacecImporters
import FacecRuntime
import FacecPipeline

/// Detection and alignment against deepface 0.0.103 and OpenCV 4.14
/// themselves (scripts/fixtures/generate_detection.py): on every photo of
/// ../shared/faces the same faces in the same order, the same boxes, eyes and
/// confidences, the same aligned crops byte for byte, and DeepID embeddings
/// of those crops (random demo weights) equal to deepface's own.
@Suite struct DetectionTests {
    struct Expected: Decodable {
        struct Photo: Decodable {
            let file: String
            let width: Int, height: Int
            let faces: [Face]?
            let deepface_error: String?
        }
        struct Face: Decodable {
            let facial_area: Area
            let face_confidence: Double
            let crop_shape: [Int]
            let crop_sha256: String
            let embedding: [Float]
        }
        struct Area: Decodable, Equatable {
            let x: Int, y: Int, w: Int, h: Int
            let left_eye: [Int]?, right_eye: [Int]?
        }
        let photos: [Photo]
    }

    static let expected: Expected? = {
        guard let data = FileManager.default.contents(atPath: TestPaths.fixture("detection/expected.json")) else { return nil }
        return try? JSONDecoder().decode(Expected.self, from: data)
    }()

    static let detector: FaceDetector = {
        let dir = OpenCVCascade.debianDirectory
        let spec = DetectorSpec(face: try! OpenCVCascade.load(path: dir + "/" + OpenCVCascade.faceFile),
                                eye: try! OpenCVCascade.load(path: dir + "/" + OpenCVCascade.eyeFile))
        return FaceDetector(spec)
    }()

    static func bgrSHA256(_ image: DecodedImage) -> String {
        var bgr = image.pixels
        for i in stride(from: 0, to: bgr.count, by: 3) { bgr.swapAt(i, i + 2) }
        var h = SHA256()
        bgr.withUnsafeBytes { h.update($0) }
        return h.finish().map { String(format: "%02x", $0) }.joined()
    }

    static var photoNames: [String] { expected?.photos.map(\.file) ?? [] }

    /// A detected face against deepface's: box, eyes and confidence.
    static func expectSame(_ f: DetectedFace, _ a: Expected.Area, _ confidence: Double, _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let box: [Int] = [f.x, f.y, f.width, f.height]
        #expect(box == [a.x, a.y, a.w, a.h], "\(what)", sourceLocation: sourceLocation)
        let eyes: [[Int]?] = [f.leftEye.map { [$0.x, $0.y] }, f.rightEye.map { [$0.x, $0.y] }]
        #expect(eyes == [a.left_eye, a.right_eye], "\(what) eyes", sourceLocation: sourceLocation)
        #expect(f.confidence == confidence, "\(what) confidence", sourceLocation: sourceLocation)
    }

    @Test(arguments: photoNames)
    func sameFacesCropsAndEmbeddingsAsDeepface(_ name: String) throws {
        #expect(TestPaths.facesAvailable, "../shared/faces is needed for this test")
        guard TestPaths.facesAvailable, let photo = Self.expected?.photos.first(where: { $0.file == name }) else { return }
        let image = try ImageDecoder.decodeFile(TestPaths.faces.appendingPathComponent(name).path)
        #expect(image.width == photo.width && image.height == photo.height)
        let faces = try Self.detector.detect(image, path: name)
        let expectedFaces = photo.faces ?? []
        #expect(faces.count == expectedFaces.count, "\(name): \(faces.count) faces, deepface \(expectedFaces.count)")
        let model = try DeepIDModel.shared()
        let embedder = Embedder(model: model)
        let instance = model.makeInstance()
        for (k, (f, e)) in zip(faces, expectedFaces).enumerated() {
            DetectionTests.expectSame(f, e.facial_area, e.face_confidence, "\(name) face \(k)")
            let shape: [Int] = [f.crop.height, f.crop.width, 3]
            #expect(shape == e.crop_shape, "\(name) face \(k) crop shape")
            #expect(Self.bgrSHA256(f.crop) == e.crop_sha256, "\(name) face \(k): the aligned crop differs from deepface's")
            let embedding = try instance.embed(embedder.inputTensor(forCrop: f.crop))
            let cosine = cosineSimilarity(embedding, e.embedding)
            #expect(cosine >= 0.9999, "\(name) face \(k): cosine \(cosine) against deepface's embedding")
        }
    }
}

/// The bundled DeepID demo model, converted once per test run.
enum DeepIDModel {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var model: Model?
    private static let dir = TempDir()

    static func shared() throws -> Model {
        lock.lock()
        defer { lock.unlock() }
        if let model { return model }
        let m = try convertAndLoad(TestPaths.demoWeights, to: dir)
        model = m
        return m
    }
}
