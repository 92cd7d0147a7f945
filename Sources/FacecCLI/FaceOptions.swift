import FacecCore
import FacecDetect
import FacecDetectKernels
import FacecRuntime
import FacecPipeline

public enum FaceDetectorChoice: String, CaseIterable { case opencv, mtcnn, skip }

/// The options that choose how photos become faces, shared by run, verify and detect.
public struct FaceOptions {
    public static let options: [OptionSpec] = [
        .option(.detector, help: "opencv or mtcnn (detect and align every face with the detector the model carries: convert --detector opencv|mtcnn) or skip (each photo is already a face crop). Default: the model's detector when it carries one, else skip."),
        .flag(.noEnforceDetection, help: "A photo without a face is used whole (deepface's enforce_detection=False) instead of being an error."),
    ]

    public let detector: FaceDetectorChoice?
    let noEnforceDetection: Bool

    public init(_ a: ParsedArguments) throws {
        detector = try a.choice(.detector, FaceDetectorChoice.self)
        noEnforceDetection = a.flag(.noEnforceDetection)
    }

    /// `threadsPerPhoto`: threads one photo's face search may use (when
    /// photos run in parallel, each gets its share).
    public func mode(for model: Model, path: String, threadsPerPhoto: Int = 1) throws -> FaceMode {
        let carried = model.header.detector.flatMap { FaceDetectorChoice(rawValue: $0.kind) }
        switch detector ?? carried ?? .skip {
        case .skip:
            return .skip
        case let asked:
            guard let spec = model.header.detector else {
                throw FacecError(.noDetector, path, "the model carries no face detector, so --detector \(asked.rawValue) cannot run (convert it with --detector \(asked.rawValue), or give face crops with --detector skip)")
            }
            guard spec.kind == asked.rawValue else {
                throw FacecError(.noDetector, path, "the model carries the \(spec.kind) detector, not \(asked.rawValue) (convert it with --detector \(asked.rawValue))")
            }
            return .detect(FaceDetector(spec, model: model.file, threads: threadsPerPhoto), enforce: !noEnforceDetection)
        }
    }
}

/// Threads for one photo's network: a small network (DeepID: 16 MFLOP,
/// 0.3 ms) gains nothing from a second thread, and starting one costs a
/// one-shot process more than the whole network (measured: DeepID on one
/// photo 4.5 ms on 1 thread, 6.9 ms on 2), so it runs on one unless
/// --threads asks for more.
public func networkThreads(_ model: Model, perPhoto: Int, explicit: Bool) -> Int {
    explicit || model.header.totalFlops >= 100_000_000 ? perPhoto : 1
}

/// Threads split between photos in parallel and each photo's face search.
public func threadSplit(threads: Int, photos: Int) -> (photoWorkers: Int, perPhoto: Int) {
    let workers = max(1, min(threads, photos))
    return (workers, max(1, threads / workers))
}

public enum FaceJSON {
    /// deepface's facial_area: x, y, w, h, left_eye and right_eye as [x, y] or null.
    public static func area(_ a: FacialArea) -> String {
        func point(_ p: PixelPoint?) -> String { p.map { "[\($0.x),\($0.y)]" } ?? "null" }
        return JSONText.object([("x", "\(a.x)"), ("y", "\(a.y)"), ("w", "\(a.width)"), ("h", "\(a.height)"),
                                ("left_eye", point(a.leftEye)), ("right_eye", point(a.rightEye))])
    }

    public static func milliseconds(_ ms: Double) -> String { JSONText.number((ms * 1e3).rounded() / 1e3) }
}
