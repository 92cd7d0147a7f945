/// A boosted cascade of Haar-feature stumps, as OpenCV's
/// `CascadeClassifier` holds a "new format" HAAR cascade once read: every
/// value already in the form the detector computes with (float32 thresholds,
/// each stage threshold minus OpenCV's 1e-5, rectangles in window pixels).
public struct HaarCascade: Sendable, Equatable {
    /// One weighted rectangle of a feature.
    public struct Rect: Sendable, Equatable {
        public var x, y, width, height: Int
        public var weight: Float
        public init(x: Int, y: Int, width: Int, height: Int, weight: Float) {
            self.x = x; self.y = y; self.width = width; self.height = height; self.weight = weight
        }
    }

    /// A weak classifier: `feature(window) < threshold ? left : right`.
    public struct Stump: Sendable, Equatable {
        public var feature: Int
        public var threshold: Float
        public var left: Float
        public var right: Float
        public init(feature: Int, threshold: Float, left: Float, right: Float) {
            self.feature = feature; self.threshold = threshold; self.left = left; self.right = right
        }
    }

    public struct Stage: Sendable, Equatable {
        /// How many consecutive stumps the stage sums.
        public var count: Int
        /// A window passes when its sum is not below this.
        public var threshold: Float
        public init(count: Int, threshold: Float) { self.count = count; self.threshold = threshold }
    }

    public var windowWidth: Int
    public var windowHeight: Int
    public var stages: [Stage]
    public var stumps: [Stump]
    /// Each feature: two or three rectangles (OpenCV's RECT_NUM is 3).
    public var features: [[Rect]]

    public init(windowWidth: Int, windowHeight: Int, stages: [Stage], stumps: [Stump], features: [[Rect]]) {
        self.windowWidth = windowWidth; self.windowHeight = windowHeight
        self.stages = stages; self.stumps = stumps; self.features = features
    }

    /// Limits that bound a detector's work and memory whatever the file.
    public static let maxWindow = 256, maxStages = 1_000, maxStumps = 100_000

    /// Why the cascade cannot be run, or nil: every index in range, every
    /// rectangle inside the window, every number finite.
    public func problem() -> String? {
        guard (2...Self.maxWindow).contains(windowWidth), (2...Self.maxWindow).contains(windowHeight) else {
            return "window \(windowWidth)×\(windowHeight) outside 2…\(Self.maxWindow)"
        }
        guard !stages.isEmpty, stages.count <= Self.maxStages else { return "\(stages.count) stages" }
        guard stumps.count <= Self.maxStumps, !features.isEmpty, features.count <= Self.maxStumps else {
            return "\(stumps.count) weak classifiers over \(features.count) features"
        }
        var total = 0
        for (i, s) in stages.enumerated() {
            guard s.count > 0, s.threshold.isFinite else { return "stage \(i + 1) is empty or has a non-finite threshold" }
            total += s.count
        }
        guard total == stumps.count else { return "the stages sum \(total) weak classifiers, the cascade has \(stumps.count)" }
        for (i, s) in stumps.enumerated() {
            guard (0..<features.count).contains(s.feature) else { return "weak classifier \(i + 1) uses feature \(s.feature + 1) of \(features.count)" }
            guard s.threshold.isFinite, s.left.isFinite, s.right.isFinite else { return "weak classifier \(i + 1) has a non-finite value" }
        }
        for (i, rects) in features.enumerated() {
            guard (1...3).contains(rects.count) else { return "feature \(i + 1) has \(rects.count) rectangles" }
            for r in rects {
                guard r.x >= 0, r.y >= 0, r.width >= 0, r.height >= 0, r.x < windowWidth, r.y < windowHeight,
                      r.x + r.width <= windowWidth, r.y + r.height <= windowHeight, r.weight.isFinite else {
                    return "feature \(i + 1) has a rectangle [\(r.x) \(r.y) \(r.width) \(r.height)] outside the \(windowWidth)×\(windowHeight) window"
                }
            }
        }
        return nil
    }
}

/// The face detector a model carries: deepface's `opencv` backend, i.e. two
/// OpenCV Haar cascades and the parameters deepface calls them with, or
/// (format 1.4) its `mtcnn` backend, three small networks whose weights are
/// tensors of the model file.
public struct DetectorSpec: Sendable, Equatable {
    /// "opencv" or "mtcnn" (deepface's detector_backend names).
    public var kind: String
    public var face: HaarCascade
    public var eye: HaarCascade
    /// deepface: detectMultiScale3(img, 1.1, 10) for faces, detectMultiScale(gray, 1.1, 10) for eyes.
    public var scaleFactor: Double
    public var minNeighbors: Int
    public var eyeScaleFactor: Double
    public var eyeMinNeighbors: Int
    /// Where the cascades came from, e.g. "haarcascade_frontalface_default.xml sha256 …".
    public var source: String

    public init(kind: String = "opencv", face: HaarCascade, eye: HaarCascade, scaleFactor: Double = 1.1, minNeighbors: Int = 10,
                eyeScaleFactor: Double = 1.1, eyeMinNeighbors: Int = 10, source: String = "") {
        self.kind = kind; self.face = face; self.eye = eye; self.scaleFactor = scaleFactor
        self.minNeighbors = minNeighbors; self.eyeScaleFactor = eyeScaleFactor; self.eyeMinNeighbors = eyeMinNeighbors
        self.source = source
    }

    /// With kind "mtcnn": the networks (the cascades are then empty).
    public var mtcnn: MTCNNSpec? = nil

    /// deepface's mtcnn backend.
    public init(mtcnn: MTCNNSpec, source: String) {
        let none = HaarCascade(windowWidth: 0, windowHeight: 0, stages: [], stumps: [], features: [])
        self.init(kind: "mtcnn", face: none, eye: none, source: source)
        self.mtcnn = mtcnn
    }

    /// Why the detector cannot be run, or nil. `tensors`: the model file's
    /// table, which an MTCNN detector's weights must fit (nil: a detector
    /// message on its own, checked for everything but its weights).
    public func problem(tensors: [TensorEntry]? = nil) -> String? {
        if kind == "mtcnn" {
            guard let mtcnn else { return "an mtcnn detector without its networks" }
            return mtcnn.problem(tensors: tensors)
        }
        guard mtcnn == nil else { return "a '\(kind)' detector carrying MTCNN networks" }
        guard kind == "opencv" else { return "detector kind '\(kind)' is not one this facec runs (opencv, mtcnn)" }
        guard scaleFactor >= 1.01, scaleFactor <= 4, eyeScaleFactor >= 1.01, eyeScaleFactor <= 4 else { return "scale factors must be in [1.01, 4] (deepface uses 1.1; smaller steps multiply the work)" }
        guard (0...1000).contains(minNeighbors), (0...1000).contains(eyeMinNeighbors) else { return "min neighbours out of range" }
        if let p = face.problem() { return "face cascade: \(p)" }
        if let p = eye.problem() { return "eye cascade: \(p)" }
        return nil
    }
}
