import FacecFormat
import FacecImage
import FacecRuntime
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Turns input files (JPEG photos, or .npy tensors already preprocessed) into
/// embeddings with the preprocessing recorded in the model.
public struct Embedder: Sendable {
    public let model: Model
    /// Decode JPEGs with DCT downscaling to no less than this many times the
    /// model's input size (nil: full size). Decoding dominates for large
    /// photos; the scaled image is still far larger than the input.
    public var decodeScaleFactor: Int?

    public init(model: Model, decodeScaleFactor: Int? = nil) {
        self.model = model
        self.decodeScaleFactor = decodeScaleFactor
    }

    public var preprocessSpec: PreprocessSpec {
        let i = model.header.input
        return PreprocessSpec(height: i.height, width: i.width, colorOrder: i.colorOrder == .rgb ? .rgb : .bgr,
                              scale: i.scale, mean: i.mean, resize: i.resize == .keepAspectPad ? .keepAspectPad : .stretch)
    }

    /// The network input for a face crop (or a whole photo), as deepface
    /// prepares it: its `/255` is skipped when the crop's largest value is at
    /// most 1 (`if img.max() > 1`), so an all-black or near-black crop keeps
    /// its raw values.
    public func inputTensor(forCrop image: DecodedImage) -> [Float] {
        var spec = preprocessSpec
        if spec.scale != 1, !image.pixels.contains(where: { $0 > 1 }) { spec.scale = 1 }
        return Preprocessor.tensor(from: image, spec: spec)
    }

    /// Decodes and preprocesses a JPEG into the model's input tensor.
    public func inputTensor(forImage path: String) throws -> [Float] {
        let i = model.header.input
        let image = try ImageDecoder.decodeFile(path, minimum: decodeScaleFactor.map { (i.width * $0, i.height * $0) })
        return Preprocessor.tensor(from: image, spec: preprocessSpec)
    }

    public struct Result: Sendable {
        public let embedding: [Float]
        public let totalMs: Double
        public let networkMs: Double
    }

    /// Embeds one image with the given instance (one instance per thread).
    public func embedImage(_ path: String, with instance: ModelInstance) throws -> Result {
        let start = Clock.now()
        let tensor = try inputTensor(forImage: path)
        let netStart = Clock.now()
        let e = instance.embed(tensor)
        let end = Clock.now()
        return Result(embedding: e, totalMs: (end - start) * 1e3, networkMs: (end - netStart) * 1e3)
    }

    /// Embeds every image once, on `threads` threads (each with its own
    /// model instance). Failures are returned per image, not thrown.
    public func embedImages(_ paths: [String], threads: Int) -> [Swift.Result<Result, Error>] {
        let results = ResultSlots<Swift.Result<Result, Error>>(count: paths.count)
        let next = Atomic<Int>(0)
        let workers = max(1, min(threads, paths.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let instance = model.makeInstance()
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                if i >= paths.count { break }
                results.set(i, Swift.Result { try embedImage(paths[i], with: instance) })
            }
        }
        return results.values()
    }
}

/// Fixed slots written by distinct threads (each index once), read after all
/// writers finished.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = Mutex(())
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.withLock { _ in slots[i] = value } }
    func values() -> [T] { lock.withLock { _ in slots.map { $0! } } }
}

/// Monotonic seconds.
public enum Clock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
