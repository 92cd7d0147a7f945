import FacecCore
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
    /// deepface's `facial_area`: the face box, or the whole photo.
    public let area: FacialArea
    /// deepface's `face_confidence` (0 when the whole photo was used).
    public let confidence: Double
    public let embedding: [Float]
    /// The photo's decoding, detection, preprocessing and network time
    /// (shared by its faces), and this face's network time alone.
    public let totalMs: Double
    public let networkMs: Double
}

extension Embedder {
    /// Every face of one photo and its embedding (one instance per thread).
    public func embedFaces(_ path: String, mode: FaceMode, with instance: ModelInstance) throws -> [FaceEmbedding] {
        try embedFaces(path, mode: mode, with: instance, each: { _ in () }).map(\.face)
    }

    /// The same, calling `each` right after each face's network run (while
    /// the instance still holds that face's outputs, e.g. class probabilities).
    public func embedFaces<Extra>(_ path: String, mode: FaceMode, with instance: ModelInstance,
                                  each: (Int) -> Extra) throws -> [(face: FaceEmbedding, extra: Extra)] {
        let start = monotonicSeconds()
        var minimum: (Int, Int)?
        if case .skip = mode, let f = decodeScaleFactor {
            minimum = (model.header.input.width * f, model.header.input.height * f)
        }
        let photo = try ImageDecoder.decodeFile(path, minimum: minimum)
        return try embedFaces(photo, name: path, mode: mode, with: instance, since: start, each: each)
    }

    /// Every face of an already decoded photo (RGB; `name` is what errors
    /// quote), e.g. a camera frame handed over through the C API.
    public func embedFaces(_ photo: DecodedImage, name: String, mode: FaceMode, with instance: ModelInstance) throws -> [FaceEmbedding] {
        try embedFaces(photo, name: name, mode: mode, with: instance, since: monotonicSeconds(), each: { _ in () }).map(\.face)
    }

    private func embedFaces<Extra>(_ photo: DecodedImage, name: String, mode: FaceMode, with instance: ModelInstance,
                                   since start: Double, each: (Int) -> Extra) throws -> [(face: FaceEmbedding, extra: Extra)] {
        guard case .detect(let detector, let enforce) = mode else {
            let tensor = Preprocessor.tensor(from: photo, spec: preprocessSpec)
            let net = monotonicSeconds()
            let e = try instance.embed(tensor)
            let end = monotonicSeconds()
            let extra = each(0)
            // represent(detector_backend="skip") reports the whole photo (with
            // w and h swapped, a deepface slip not copied here).
            return [(FaceEmbedding(index: 0, area: FacialArea(x: 0, y: 0, width: photo.width, height: photo.height), confidence: 0,
                                   embedding: e, totalMs: (end - start) * 1e3, networkMs: (end - net) * 1e3), extra)]
        }
        let faces = try detector.extractFaces(photo, path: name, enforce: enforce)
        var embedded: [(area: FacialArea, confidence: Double, embedding: [Float], networkMs: Double, extra: Extra)] = []
        for (k, f) in faces.enumerated() {
            let tensor = inputTensor(forCrop: f.crop)
            let net = monotonicSeconds()
            let e = try instance.embed(tensor)
            let ms = (monotonicSeconds() - net) * 1e3
            embedded.append((f.area, f.confidence, e, ms, each(k)))
        }
        let total = (monotonicSeconds() - start) * 1e3
        return embedded.enumerated().map { k, f in
            (FaceEmbedding(index: k, area: f.area, confidence: f.confidence, embedding: f.embedding, totalMs: total, networkMs: f.networkMs), f.extra)
        }
    }

    /// The faces of every photo on `threads` threads (each with its own
    /// model instance), handed to `body` in input order on the calling thread
    /// as soon as each photo and all before it are done. Failures are passed
    /// per photo, not thrown.
    public func embedFacesInOrder(_ paths: [String], mode: FaceMode, threads: Int,
                                  _ body: (Int, Swift.Result<[FaceEmbedding], Error>) throws -> Void) rethrows {
        try ParallelInOrder.run(count: paths.count, threads: threads, state: { model.makeInstance() },
                                work: { i, instance in Swift.Result { try embedFaces(paths[i], mode: mode, with: instance) } },
                                body)
    }
}

/// Work items run on several threads and consumed in order.
public enum ParallelInOrder {
    /// Runs `work(i, state)` for i in 0..<count on `threads` threads (each
    /// thread makes its own `state`, e.g. a model instance) and calls
    /// `body(i, result)` on the calling thread in index order, each as soon as
    /// its result is ready. If `body` throws, the remaining items are not started.
    /// Threads that cannot be created are done without; with none at all
    /// the calling thread does every item itself.
    public static func run<State, T: Sendable>(count: Int, threads: Int, create: Threads.Create = Threads.system,
                                               state: @escaping @Sendable () -> State,
                                               work: @escaping @Sendable (Int, State) -> T,
                                               _ body: (Int, T) throws -> Void) rethrows {
        let workers = max(1, min(threads, count))
        if workers == 1 {
            let s = state()
            for i in 0..<count { try body(i, work(i, s)) }
            return
        }
        let slots = OrderedSlots<T>(count: count, ahead: 4 * workers)
        let group = ThreadGroup(count: workers, create: create) { _ in
            let s = state()
            while let i = slots.claim() { slots.set(i, work(i, s)) }
        }
        if group.started == 0 {
            // Not even one thread could be created: the caller does it all.
            let s = state()
            for i in 0..<count { try body(i, work(i, s)) }
            return
        }
        defer { slots.cancel(); group.wait() }
        for i in 0..<count { try body(i, slots.take(i)) }
    }
}

/// Results produced by worker threads in any order and consumed in order:
/// workers claim the next index (at most `ahead` beyond the consumer, so
/// results such as face crops do not pile up), the consumer blocks until its
/// index is set.
final class OrderedSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private var next = 0, taken = 0
    private let ahead: Int
    private var cancelled = false
    private let condition = Condition()

    init(count: Int, ahead: Int) {
        slots = Array(repeating: nil, count: count)
        self.ahead = max(1, ahead)
    }

    func claim() -> Int? {
        condition.lock(); defer { condition.unlock() }
        while !cancelled && next < slots.count && next >= taken + ahead { condition.wait() }
        guard !cancelled, next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    func set(_ i: Int, _ value: T) {
        condition.lock(); defer { condition.unlock() }
        slots[i] = value
        condition.broadcast()
    }

    /// Waits for slot `i` and empties it (results do not pile up in memory).
    func take(_ i: Int) -> T {
        condition.lock(); defer { condition.unlock() }
        while slots[i] == nil { condition.wait() }
        let v = slots[i]!
        slots[i] = nil
        taken = i + 1
        condition.broadcast()
        return v
    }

    /// No more claims (the consumer stopped early, e.g. on an error).
    func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
    }
}
