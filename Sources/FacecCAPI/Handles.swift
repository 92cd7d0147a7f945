import CFacecAPI
import Synchronization
import FacecDetect
import FacecCore
import FacecFormat
import FacecImage
import FacecRuntime
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

/// What a `facec_model *` points to: the mapped, validated model (immutable,
/// shared by every thread) and its name as a C string.
final class ModelHandle {
    let model: Model
    let path: String
    let name: UnsafeMutablePointer<CChar>
    let detectorKind: UnsafeMutablePointer<CChar>
    /// Built once (an MTCNN detector copies its networks' weights); each
    /// call takes a copy with its session's thread count.
    private let detector: FaceDetector?

    init(model: Model, path: String) {
        self.model = model
        self.path = path
        name = strdup(model.header.modelName)
        detectorKind = strdup(model.header.detector?.kind ?? "")
        detector = model.header.detector.map { FaceDetector($0, model: model.file) }
    }

    deinit { free(name); free(detectorKind) }

    var dimension: Int { model.header.output.dim }

    /// How an image becomes faces under the API's flags.
    func mode(flags: UInt32, threads: Int) throws(APIError) -> FaceMode {
        let known = UInt32(FACEC_SKIP_DETECTION | FACEC_DETECT | FACEC_NO_ENFORCE_DETECTION)
        guard flags & ~known == 0 else { throw APIError(FACEC_ERROR_ARGUMENT, "unknown flags 0x\(String(flags & ~known, radix: 16))") }
        let skip = flags & UInt32(FACEC_SKIP_DETECTION) != 0, detect = flags & UInt32(FACEC_DETECT) != 0
        guard !(skip && detect) else { throw APIError(FACEC_ERROR_ARGUMENT, "FACEC_SKIP_DETECTION and FACEC_DETECT exclude each other") }
        if skip || (!detect && model.header.detector == nil) { return .skip }
        guard var detector else {
            throw APIError(FACEC_ERROR_NO_DETECTOR, "\(path): the model carries no face detector (convert it with --detector opencv or mtcnn, or pass FACEC_SKIP_DETECTION)")
        }
        detector.threads = max(1, threads)
        return .detect(detector, enforce: flags & UInt32(FACEC_NO_ENFORCE_DETECTION) == 0)
    }
}

/// What a `facec_session *` points to: one thread's model instance.
final class SessionHandle {
    let owner: ModelHandle
    let instance: ModelInstance
    let embedder: Embedder
    let threads: Int
    private let busy = Atomic<Bool>(false)

    /// Marks the session in use; false if another thread is in it.
    func enter() -> Bool { busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged }
    func leave() { busy.store(false, ordering: .releasing) }

    init(owner: ModelHandle, threads: Int) {
        self.owner = owner
        self.threads = threads
        instance = owner.model.makeInstance(threads: threads)
        embedder = Embedder(model: owner.model)
    }
}

/// What a `facec_faces *` points to: faces in C layout and their embeddings
/// (or none, for detection only), in memory that stays put until freed.
final class FacesHandle {
    let count: Int
    let dimension: Int
    let faces: UnsafeMutablePointer<facec_face>
    let embeddings: UnsafeMutablePointer<Float>?
    /// The aligned crops (RGB), when asked for with FACEC_WITH_CROPS.
    let crops: [Crop]?

    struct Crop {
        let width, height: Int
        let pixels: UnsafeMutablePointer<UInt8>
    }

    init(areas: [(FacialArea, Double)], embeddings rows: [[Float]]?, dimension: Int, crops images: [DecodedImage]? = nil) {
        count = areas.count
        self.dimension = dimension
        faces = .allocate(capacity: max(1, count))
        for (i, (a, confidence)) in areas.enumerated() {
            var f = facec_face()
            f.x = Int32(a.x); f.y = Int32(a.y); f.w = Int32(a.width); f.h = Int32(a.height)
            if let e = a.leftEye { f.has_left_eye = 1; f.left_eye_x = Int32(e.x); f.left_eye_y = Int32(e.y) }
            if let e = a.rightEye { f.has_right_eye = 1; f.right_eye_x = Int32(e.x); f.right_eye_y = Int32(e.y) }
            f.confidence = confidence
            (faces + i).initialize(to: f)
        }
        if let rows {
            let e = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count * dimension))
            for (i, row) in rows.enumerated() {
                precondition(row.count == dimension)
                row.withUnsafeBufferPointer { (e + i * dimension).initialize(from: $0.baseAddress!, count: dimension) }
            }
            embeddings = e
        } else {
            embeddings = nil
        }
        crops = images.map { list in
            list.map { image in
                let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, image.pixels.count))
                image.pixels.withUnsafeBufferPointer { if let b = $0.baseAddress { p.initialize(from: b, count: $0.count) } }
                return Crop(width: image.width, height: image.height, pixels: p)
            }
        }
    }

    deinit {
        faces.deallocate()
        embeddings?.deallocate()
        crops?.forEach { $0.pixels.deallocate() }
    }
}

/// A failure on its way to C: a status code and the one-line message.
struct APIError: Error {
    let status: facec_status
    let message: String
    init(_ status: facec_status, _ message: String) { self.status = status; self.message = message }

    /// The status for an error of the runtime's own kinds.
    static func from(_ error: Error) -> APIError {
        if let e = error as? APIError { return e }
        guard let e = error as? FacecError else { return APIError(FACEC_ERROR_INTERNAL, String(describing: error)) }
        return APIError(status(e.kind), e.description)
    }

    static func status(_ kind: FacecError.Kind) -> facec_status {
        switch kind {
        case .usage, .argument: return FACEC_ERROR_ARGUMENT
        case .io: return FACEC_ERROR_IO
        case .model: return FACEC_ERROR_MODEL
        case .image: return FACEC_ERROR_IMAGE
        case .noFace: return FACEC_ERROR_NO_FACE
        case .tooMuchWork: return FACEC_ERROR_TOO_MUCH_WORK
        case .noDetector: return FACEC_ERROR_NO_DETECTOR
        // Not reachable through the C API (it neither imports, compiles,
        // reads tensors or pairs files nor opens galleries).
        case .weights, .graph, .input, .gallery, .internal: return FACEC_ERROR_INTERNAL
        }
    }
}

/// Runs `body`, turning a thrown error into its status and this thread's
/// last-error text.
func guarded(_ body: () throws -> Void) -> facec_status {
    do {
        try body()
        return FACEC_OK
    } catch {
        let e = APIError.from(error)
        facec__set_error(oneLine(e.message))
        return e.status
    }
}
