@testable import FacecDigest
import Foundation
@testable import FacecKernels
import Testing
import FacecDetect
import FacecFormat
import FacecGraph
import FacecImage
import FacecImporters
import FacecRuntime
import FacecPipeline

/// deepface's "Dlib" model with the real trained weights, against dlib 20.0.1
/// and deepface 0.0.103 themselves (scripts/fixtures/generate_dlib.py,
/// Tests/FacecTests/Fixtures/dlib/): the network alone on four 150×150 chips;
/// every face of ../shared/faces (same box, eyes and confidence, the same uint8
/// chip byte for byte, an embedding with cosine ≥ 0.9999 to deepface's); and
/// `verify --pairs master.csv` with deepface's verdicts and distances.
@Suite(.serialized) struct DlibFidelityTests {
    struct Expected: Decodable {
        struct Photo: Decodable {
            let file: String
            let faces: [Face]?
            let deepface_error: String?
        }
        struct Face: Decodable {
            let facial_area: DetectionTests.Expected.Area
            let face_confidence: Double
            let chip_sha256: String
            let embedding: [Double]
        }
        struct Verdict: Decodable {
            let distance: Double?, threshold: Double?, verified: Bool?
            let error: String?
        }
        struct Pair: Decodable {
            let file_x: String, file_y: String, decision: String
            let cosine: Verdict, euclidean_l2: Verdict
        }
        let photos: [Photo]
        let verify_pairs: [Pair]
    }

    static let expected: Expected? = {
        guard let data = FileManager.default.contents(atPath: TestPaths.fixture("dlib/expected.json")) else { return nil }
        return try? JSONDecoder().decode(Expected.self, from: data)
    }()

    /// The network's input for a uint8 RGB chip, as the model's input spec
    /// says (dlib's input layer): u × 1/256 − mean/256.
    static func networkInput(_ chip: ArraySlice<UInt8>, _ spec: InputSpec) -> [Float] {
        chip.enumerated().map { i, u in Float(u) * spec.postScale - spec.mean[i % 3] }
    }

    /// dlib's compute_face_descriptor on the four chips (two deepface chips of
    /// real photos, a smooth image, noise), every plan facec makes.
    @Test func theNetworkMatchesDlib() throws {
        let chips = try NPY.read(TestPaths.fixture("dlib/chips.npy"))
        let reference = try NPY.read(TestPaths.fixture("dlib/chips_descriptors.npy"))
        #expect(chips.shape == [4, 150, 150, 3] && reference.shape == [4, 128])
        let source = try DlibWeights.require()
        for (name, options, tolerance) in [("winograd", CompileOptions(), 1e-5), ("direct", CompileOptions.direct, 1e-5),
                                           ("f16", CompileOptions(weights: .f16), 1e-3), ("int8", CompileOptions(weights: .int8), 2e-2)] {
            let model = try convertAndLoad(source, to: TempDir(), options: options)
            for isa in KernelISA.supported {
                let instance = model.makeInstance(isa: isa)
                for k in 0..<4 {
                    let chip = chips.bytes[(k * 67500)..<((k + 1) * 67500)]
                    let out = try instance.embed(Self.networkInput(chip, model.header.input))
                    let ref = reference.values[(k * 128)..<((k + 1) * 128)].map { Float($0) }
                    let error = relativeError(out, ref)
                    #expect(error <= tolerance, "\(name) \(isa) chip \(k): relative error \(error) against dlib")
                    #expect(cosineSimilarity(out, ref) >= (name == "int8" ? 0.999 : 0.9999999), "\(name) \(isa) chip \(k)")
                }
            }
        }
    }

    static var photoNames: [String] { expected?.photos.map(\.file) ?? [] }

    @Test(arguments: photoNames)
    func sameFacesChipsAndEmbeddingsAsDeepface(_ name: String) throws {
        #expect(TestPaths.facesAvailable, "../shared/faces is needed for this test")
        guard TestPaths.facesAvailable, let photo = Self.expected?.photos.first(where: { $0.file == name }) else { return }
        let model = try DlibModel.shared()
        let embedder = Embedder(model: model)
        let instance = model.makeInstance()
        let image = try ImageDecoder.decodeFile(TestPaths.faces.appendingPathComponent(name).path)
        let faces = try DetectionTests.detector.detect(image, path: name)
        let expectedFaces = photo.faces ?? []
        #expect(faces.count == expectedFaces.count, "\(name): \(faces.count) faces, deepface \(expectedFaces.count)")
        for (k, (f, e)) in zip(faces, expectedFaces).enumerated() {
            DetectionTests.expectSame(f, e.facial_area, e.face_confidence, "\(name) face \(k)")
            let input = embedder.inputTensor(forCrop: f.crop)
            // The uint8 chip deepface hands dlib, recovered from the network input.
            let spec = model.header.input
            let chip = input.enumerated().map { i, v in UInt8(((v + spec.mean[i % 3]) / spec.postScale).rounded()) }
            #expect(DlibModel.sha256(chip) == e.chip_sha256, "\(name) face \(k): the uint8 chip differs from deepface's")
            let embedding = try instance.embed(input)
            let cosine = cosineSimilarity(embedding, e.embedding.map { Float($0) })
            #expect(cosine >= 0.9999, "\(name) face \(k): cosine \(cosine) against deepface's embedding")
            #expect(relativeError(embedding, e.embedding.map { Float($0) }) <= 1e-5, "\(name) face \(k)")
        }
    }

    /// `facec verify --pairs` (the CLI users run) against DeepFace.verify on
    /// master.csv: the same verdict on every pair (a pair within 1e-4 of the
    /// threshold excepted) and distances within 1e-4, for deepface's default
    /// metric and for euclidean_l2.
    @Test(arguments: ["cosine", "euclidean_l2"])
    func verifyPairsGiveDeepfacesVerdicts(_ metric: String) throws {
        #expect(TestPaths.facesAvailable, "../shared/faces is needed for this test")
        guard TestPaths.facesAvailable, let expected = Self.expected else { return }
        let dir = TempDir()
        let model = try DlibModel.path()
        let r = try facec(["verify", model, "--pairs", TestPaths.faces.appendingPathComponent("master.csv").path,
                           "--root", TestPaths.faces.path, "--metric", metric, "-o", dir.path("out.csv")])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try String(contentsOfFile: dir.path("out.csv"), encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        #expect(rows.count == expected.verify_pairs.count)
        var largest = 0.0
        for (row, pair) in zip(rows, expected.verify_pairs) {
            #expect(row[0] == pair.file_x && row[1] == pair.file_y)
            let v = metric == "cosine" ? pair.cosine : pair.euclidean_l2
            guard let distance = v.distance, let threshold = v.threshold, let verified = v.verified else {
                Issue.record("deepface raised on \(pair.file_x), \(pair.file_y): \(v.error ?? "?")"); continue
            }
            let d = Double(row[2])!
            largest = max(largest, abs(d - distance))
            #expect(abs(d - distance) <= 1e-4, "\(pair.file_x) \(pair.file_y) \(metric): \(d) vs deepface \(distance)")
            if abs(distance - threshold) > 1e-4 {
                #expect((row[4] == "true") == verified, "\(pair.file_x) \(pair.file_y) \(metric): verdict differs from deepface's")
            }
        }
        print("verify --pairs \(metric): largest distance difference to deepface \(largest)")
    }

    /// Reduced weights with real weights, every face of the shared photos:
    /// f16 and int8 against facec's float32 (cosine per face, verdicts on
    /// master.csv's pairs with deepface's cosine threshold).
    @Test func reducedPrecisionOnRealFaces() throws {
        #expect(TestPaths.facesAvailable, "../shared/faces is needed for this test")
        guard TestPaths.facesAvailable, let expected = Self.expected else { return }
        let f32 = try DlibModel.shared()
        let dir = TempDir()
        var crops: [String: [DecodedImage]] = [:]
        for photo in expected.photos where photo.faces != nil {
            let image = try ImageDecoder.decodeFile(TestPaths.faces.appendingPathComponent(photo.file).path)
            crops[photo.file] = try DetectionTests.detector.detect(image, path: photo.file).map(\.crop)
        }
        func embed(_ model: Model) throws -> [String: [[Float]]] {
            let embedder = Embedder(model: model), instance = model.makeInstance()
            return try crops.mapValues { try $0.map { try instance.embed(embedder.inputTensor(forCrop: $0)) } }
        }
        let reference = try embed(f32)
        for (precision, minCosine, minAgreement) in [(WeightPrecision.f16, 0.99999, 1.0), (.int8, 0.999, 0.99)] {
            let model = try convertAndLoad(try DlibWeights.require(), to: dir, options: CompileOptions(weights: precision))
            let reduced = try embed(model)
            var worst = 1.0
            for (file, faces) in reference { for (a, b) in zip(faces, reduced[file]!) { worst = min(worst, cosineSimilarity(b, a)) } }
            var agree = 0, total = 0
            for pair in expected.verify_pairs {
                guard reference[pair.file_x] != nil, reference[pair.file_y] != nil else { continue }
                func verdict(_ e: [String: [[Float]]]) -> Bool {
                    let d = e[pair.file_x]!.flatMap { a in e[pair.file_y]!.map { b in 1 - cosineSimilarity(a, b) } }.min()!
                    return d <= 0.07
                }
                total += 1
                agree += verdict(reference) == verdict(reduced) ? 1 : 0
            }
            print("\(precision.rawValue): min cosine to f32 \(worst) over \(reference.values.joined().count) faces, verdicts \(agree)/\(total)")
            #expect(worst >= minCosine, "\(precision.rawValue): min cosine \(worst)")
            #expect(Double(agree) >= minAgreement * Double(total), "\(precision.rawValue): \(agree)/\(total) verdicts")
        }
    }
}

/// dlib's face ResNet with the OpenCV detector, converted once per test run.
enum DlibModel {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var model: (Model, String)?
    private static let dir = TempDir()

    static func path() throws -> String { try load().1 }
    static func shared() throws -> Model { try load().0 }

    private static func load() throws -> (Model, String) {
        lock.lock()
        defer { lock.unlock() }
        if let model { return model }
        let out = dir.path("dlib.fgraph")
        let r = try facec(["convert", try DlibWeights.require(), "--detector", "opencv", "-o", out])
        try #require(r.status == 0, "\(r.stderr)")
        let m = (try Model(path: out), out)
        model = m
        return m
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        var h = SHA256()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finish().map { String(format: "%02x", $0) }.joined()
    }
}

/// .npy files of any numeric dtype the fixtures use (|u1, <f4, <f8).
struct NPY {
    let shape: [Int]
    let bytes: [UInt8]        // |u1 data
    let values: [Double]      // every dtype, widened

    static func read(_ path: String) throws -> NPY {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        let descr = header.components(separatedBy: "'descr': '")[1].prefix(3)
        let dims = header.components(separatedBy: "'shape': (")[1].prefix { $0 != ")" }
        let shape = dims.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let body = Array(data[(10 + headerLength)...])
        let count = shape.reduce(1, *)
        switch descr {
        case "|u1": return NPY(shape: shape, bytes: body, values: body.prefix(count).map(Double.init))
        case "<f4":
            let v = (0..<count).map { i in Double(Float(bitPattern: body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) })) }
            return NPY(shape: shape, bytes: [], values: v)
        case "<f8":
            let v = (0..<count).map { i in Double(bitPattern: body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self) }) }
            return NPY(shape: shape, bytes: [], values: v)
        default: throw CocoaError(.fileReadCorruptFile)
        }
    }
}
