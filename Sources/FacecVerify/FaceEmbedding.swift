import FacecDetect
import FacecFormat
import FacecImage
import FacecRuntime

/// How photos reach the network.
public enum FaceMode: Sendable {
    /// The whole photo is the face (deepface's detector_backend="skip").
    case skip
    /// deepface's default pipeline; with `enforce`, a photo without a face is
    /// an error, without it the whole photo is used (enforce_detection=False).
    case detect(FaceDetector, enforce: Bool)
}

/// One face of a photo with its embedding, in deepface's `represent` terms.
public struct FaceEmbedding: Sendable {
    /// deepface's face index: the order faces are detected in.
    public let index: Int
    /// The face, or nil when the whole photo was used.
    public let face: DetectedFace?
    /// deepface's `facial_area`: the face box, or the whole photo.
    public let x, y, width, height: Int
    public let confidence: Double
    public let embedding: [Float]
    /// Decoding, detection and preprocessing plus the network, and the network alone.
    public let totalMs: Double
    public let networkMs: Double
}

public struct FaceNotFound: Error, CustomStringConvertible, Sendable {
    public let path: String
    public var description: String {
        "\(path): no face detected (deepface's opencv detector finds none; use --no-enforce-detection to take the whole photo)"
    }
}

extension Embedder {
    /// Every face of one photo and its embedding (one instance per thread).
    public func embedFaces(_ path: String, mode: FaceMode, with instance: ModelInstance) throws -> [FaceEmbedding] {
        let start = Clock.now()
        guard case .detect(let detector, let enforce) = mode else {
            let i = model.header.input
            let image = try ImageDecoder.decodeFile(path, minimum: decodeScaleFactor.map { (i.width * $0, i.height * $0) })
            let tensor = Preprocessor.tensor(from: image, spec: preprocessSpec)
            let net = Clock.now()
            let e = instance.embed(tensor)
            let end = Clock.now()
            return [FaceEmbedding(index: 0, face: nil, x: 0, y: 0, width: image.width, height: image.height, confidence: 0,
                                  embedding: e, totalMs: (end - start) * 1e3, networkMs: (end - net) * 1e3)]
        }
        let photo = try ImageDecoder.decodeFile(path)
        let faces = detector.detect(photo)
        guard !faces.isEmpty else {
            guard !enforce else { throw FaceNotFound(path: path) }
            // extract_faces with enforce_detection=False: the whole photo, its
            // area clipped the way deepface clips every box (one pixel short).
            let tensor = inputTensor(forCrop: photo)
            let net = Clock.now()
            let e = instance.embed(tensor)
            let end = Clock.now()
            return [FaceEmbedding(index: 0, face: nil, x: 0, y: 0, width: max(0, photo.width - 1), height: max(0, photo.height - 1),
                                  confidence: 0, embedding: e, totalMs: (end - start) * 1e3, networkMs: (end - net) * 1e3)]
        }
        var out: [FaceEmbedding] = []
        var networkMs = 0.0
        for (k, f) in faces.enumerated() {
            let tensor = inputTensor(forCrop: f.crop)
            let net = Clock.now()
            let e = instance.embed(tensor)
            networkMs = (Clock.now() - net) * 1e3
            out.append(FaceEmbedding(index: k, face: f, x: f.x, y: f.y, width: f.width, height: f.height, confidence: f.confidence,
                                     embedding: e, totalMs: 0, networkMs: networkMs))
        }
        // The photo's time is shared by its faces; report it on each.
        let total = (Clock.now() - start) * 1e3
        return out.map { FaceEmbedding(index: $0.index, face: $0.face, x: $0.x, y: $0.y, width: $0.width, height: $0.height,
                                       confidence: $0.confidence, embedding: $0.embedding, totalMs: total, networkMs: $0.networkMs) }
    }
}
