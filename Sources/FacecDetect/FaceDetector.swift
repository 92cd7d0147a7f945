import FacecCore
import FacecDetectKernels
import FacecFormat
import FacecImage
#if canImport(Glibc)
import Glibc
#endif

/// A point in image pixels.
public struct PixelPoint: Sendable, Equatable {
    public var x, y: Int
    public init(x: Int, y: Int) { self.x = x; self.y = y }
}

/// deepface's `facial_area`: a box in photo pixels and the eyes, if found.
public struct FacialArea: Sendable, Equatable {
    public var x, y, width, height: Int
    /// The eyes from the person's point of view (left eye on the right of
    /// the photo), or nil when deepface drops them.
    public var leftEye: PixelPoint?, rightEye: PixelPoint?
    public init(x: Int, y: Int, width: Int, height: Int, leftEye: PixelPoint? = nil, rightEye: PixelPoint? = nil) {
        self.x = x; self.y = y; self.width = width; self.height = height; self.leftEye = leftEye; self.rightEye = rightEye
    }
}

/// Where one photo's detection time went, in milliseconds: the black frame
/// and grey image, the face search split into making the pyramid's rows with
/// their integral images and running the cascade (split by the threads' time
/// in each), the eye searches, and the alignments.
public struct DetectionTimings: Sendable {
    public var frameAndGray = 0.0, pyramid = 0.0, cascade = 0.0, eyes = 0.0, alignment = 0.0
    public init() {}
    public var total: Double { frameAndGray + pyramid + cascade + eyes + alignment }
}

/// Why a photo gives no faces when faces are required.
extension FacecError {
    /// No face (deepface's enforce_detection=True makes this an error).
    public static func noFace(path: String, detector: String = "opencv") -> FacecError {
        FacecError(.noFace, path, "no face detected (deepface's \(detector) detector finds none; use --no-enforce-detection to take the whole photo)")
    }

    /// The cascade needed far more work than real cascades do (see
    /// `CascadeDetector.scan`): a hostile model file, stopped.
    public static func tooMuchWork(path: String) -> FacecError {
        FacecError(.tooMuchWork, path, "detection stopped: the model's cascade needs over \(CascadeDetector.maxStumpsPerWindow) weak classifiers per window or gives over \(CascadeDetector.maxCandidates) raw detections, far beyond OpenCV's cascades (a damaged or hostile model)")
    }
}

/// One face as deepface reports it (`extract_faces` / `represent` with
/// `detector_backend="opencv"`, `align=True`, `expand_percentage=0`).
public struct DetectedFace: Sendable, Equatable {
    /// deepface's `facial_area`: the unrotated box in the photo, clipped as
    /// deepface clips it (its `w`/`h` end one pixel short of the photo edge).
    public var x, y, width, height: Int
    /// The eyes from the person's point of view (left eye on the right of
    /// the photo), or nil when deepface drops them.
    public var leftEye: PixelPoint?, rightEye: PixelPoint?
    /// deepface's `face_confidence`: (100 − last-stage sum) / 100, to 2 decimals.
    public var confidence: Double
    /// The aligned crop (RGB) that goes to the network.
    public var crop: DecodedImage

    public var area: FacialArea { FacialArea(x: x, y: y, width: width, height: height, leftEye: leftEye, rightEye: rightEye) }
}

/// deepface's default detection and alignment (deepface 0.0.103,
/// `modules/detection.py` and `models/face_detection/OpenCv.py`):
/// 1. a black border of half the height and width around the photo;
/// 2. faces: the frontal-face cascade on the bordered image
///    (detectMultiScale3(img, 1.1, 10) with reject levels);
/// 3. eyes: the eye cascade on each face box of the bordered grey image
///    (detectMultiScale(gray, 1.1, 10)); the two largest (stable by area),
///    the left one of the photo being the person's right eye; their centres;
/// 4. alignment: a sub-image of the box with half its size around it (black
///    outside the bordered image), rotated about its centre by the eye angle
///    (getRotationMatrix2D + warpAffine INTER_CUBIC), the box projected into
///    it, and the crop cut there;
/// 5. the reported box and eyes moved back by the border and clipped.
public struct FaceDetector: Sendable {
    public let spec: DetectorSpec
    private let faces: CascadeDetector?
    private let eyes: CascadeDetector?
    /// deepface's mtcnn backend, when the model carries it.
    private let mtcnn: MTCNNDetector?
    /// Threads one photo's face search uses (the result does not depend on it).
    public var threads: Int

    /// `model`: the file the spec came from (an MTCNN detector's weights are
    /// its tensors; the Haar cascades are all in the spec).
    public init(_ spec: DetectorSpec, model: ModelFile? = nil, threads: Int = 1) {
        precondition(spec.problem(tensors: model?.header.tensors) == nil, "FaceDetector: invalid detector spec")
        self.spec = spec
        self.threads = max(1, threads)
        if let m = spec.mtcnn {
            precondition(model != nil, "FaceDetector: an MTCNN detector needs its model file")
            mtcnn = MTCNNDetector(m, tensor: { model!.tensor($0) })
            faces = nil
            eyes = nil
        } else {
            mtcnn = nil
            faces = CascadeDetector(spec.face)
            eyes = CascadeDetector(spec.eye)
        }
    }

    /// deepface's extract_faces: the faces of a photo; when there are none,
    /// an error if `enforce`, else the whole photo as one face with
    /// confidence 0 and its area clipped the way deepface clips every box
    /// (one pixel short of the edges).
    public func extractFaces(_ photo: DecodedImage, path: String, enforce: Bool,
                             timings: ((DetectionTimings) -> Void)? = nil) throws(FacecError) -> [DetectedFace] {
        let (faces, measured) = try detect(photo, path: path, measure: timings != nil)
        if let measured { timings?(measured) }
        if !faces.isEmpty { return faces }
        if enforce { throw .noFace(path: path, detector: spec.kind) }
        return [DetectedFace(x: 0, y: 0, width: max(0, photo.width - 1), height: max(0, photo.height - 1),
                             leftEye: nil, rightEye: nil, confidence: 0, crop: photo)]
    }

    public func detect(_ image: DecodedImage, path: String = "photo") throws(FacecError) -> [DetectedFace] {
        try detect(image, path: path, measure: false).faces
    }

    /// The faces and, with `measure`, where the time went.
    public func detect(_ image: DecodedImage, path: String, measure: Bool) throws(FacecError) -> (faces: [DetectedFace], timings: DetectionTimings?) {
        var clock = measure ? monotonicSeconds() : 0
        var t = DetectionTimings()
        func lap(_ into: inout Double) {
            guard measure else { return }
            let now = monotonicSeconds()
            into += (now - clock) * 1e3
            clock = now
        }
        if let mtcnn { return detectMTCNN(mtcnn, image, measure: measure) }
        guard let faces else { return ([], nil) }
        let width = image.width, height = image.height
        let hb = height / 2, wb = width / 2   // int(0.5 * h)
        // The grey bordered image (grey of black is black); the colour one is
        // never built: alignment reads the photo with the frame's offset.
        let gray = GrayImage(image, frame: (wb, hb))
        let content = PixelRect(x: wb, y: hb, width: width, height: height)
        lap(&t.frameAndGray)
        let (found, pyramidShare, exhausted) = faces.candidates(gray, scaleFactor: spec.scaleFactor, threads: threads, content: content, measure: measure)
        if exhausted || found.count > CascadeDetector.maxCandidates { throw .tooMuchWork(path: path) }
        let boxes = RectangleGrouping.group(found, threshold: spec.minNeighbors, eps: 0.2, useWeights: true)
        var search = 0.0
        lap(&search)
        t.pyramid = search * pyramidShare
        t.cascade = search - t.pyramid
        var out: [DetectedFace] = []
        for box in boxes {
            guard let (left, right) = findEyes(gray.cropped(x: box.x, y: box.y, width: box.width, height: box.height)) else {
                throw .tooMuchWork(path: path)
            }
            lap(&t.eyes)
            let leftEye = left.map { PixelPoint(x: box.x + $0.x, y: box.y + $0.y) }
            let rightEye = right.map { PixelPoint(x: box.x + $0.x, y: box.y + $0.y) }
            let crop = align(image, border: (wb, hb), box: box, leftEye: leftEye, rightEye: rightEye)
            lap(&t.alignment)
            guard crop.width > 0, crop.height > 0 else { continue }   // deepface skips empty crops
            // Back to photo coordinates, clipped as extract_faces does.
            let x = max(0, box.x - wb), y = max(0, box.y - hb)
            let w = min(width - x - 1, box.width), h = min(height - y - 1, box.height)
            func inPhoto(_ p: PixelPoint?) -> PixelPoint? {
                guard let p else { return nil }
                let q = PixelPoint(x: p.x - wb, y: p.y - hb)
                return q.x >= 0 && q.x < width && q.y >= 0 && q.y < height ? q : nil
            }
            out.append(DetectedFace(x: x, y: y, width: w, height: h, leftEye: inPhoto(leftEye), rightEye: inPhoto(rightEye),
                                    confidence: Self.roundedLikePython((100 - box.weight) / 100), crop: crop))
        }
        return (out, measure ? t : nil)
    }

    /// find_eyes: centres of the two largest eye detections in a face's grey crop.
    /// Nil when the work bound stopped the eye search.
    func findEyes(_ face: GrayImage) -> (left: PixelPoint?, right: PixelPoint?)? {
        guard face.width > 0, face.height > 0, let eyes else { return (nil, nil) }
        guard let found = eyes.detect(face, scaleFactor: spec.eyeScaleFactor, minNeighbors: spec.eyeMinNeighbors,
                                      withWeights: false, threads: threads) else { return nil }
        // Python's sorted is stable: equal areas keep detectMultiScale's order.
        let largest = found.enumerated().sorted { a, b in
            let (sa, sb) = (abs(a.element.width * a.element.height), abs(b.element.width * b.element.height))
            return sa != sb ? sa > sb : a.offset < b.offset
        }.map(\.element)
        guard largest.count >= 2 else { return (nil, nil) }
        let (e1, e2) = (largest[0], largest[1])
        let (right, left) = e1.x < e2.x ? (e1, e2) : (e2, e1)
        func centre(_ e: Detection) -> PixelPoint {
            PixelPoint(x: Int(Double(e.x) + Double(e.width) / 2), y: Int(Double(e.y) + Double(e.height) / 2))
        }
        return (centre(left), centre(right))
    }

    /// extract_face with align=True: the crop of the rotated sub-image.
    /// `box` and the eyes are in the bordered image: the photo inside a
    /// black frame of `border` (horizontal, vertical) pixels.
    func align(_ photo: DecodedImage, border: (Int, Int), box: Detection, leftEye: PixelPoint?, rightEye: PixelPoint?) -> DecodedImage {
        // extract_face first clips the box to the (bordered) image.
        let borderedWidth = photo.width + 2 * border.0, borderedHeight = photo.height + 2 * border.1
        let w = max(0, min(borderedWidth, box.x + box.width) - max(0, box.x))
        let h = max(0, min(borderedHeight, box.y + box.height) - max(0, box.y))
        let x = max(0, box.x), y = max(0, box.y)
        // extract_sub_image: the box with half its size around it, black
        // outside the bordered image (and so outside the photo).
        let rx = w / 2, ry = h / 2
        let sub = Self.subImage(photo, x: x - rx - border.0, y: y - ry - border.1, width: w + 2 * rx, height: h + 2 * ry)
        guard let l = leftEye, let r = rightEye, sub.width > 0, sub.height > 0 else {
            let (x1, y1, x2, y2) = Self.project(rx, ry, rx + w, ry + h, angle: 0, height: sub.height, width: sub.width)
            return sub.cropped(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
        }
        let angle = atan2(Double(l.y - r.y), Double(l.x - r.x)) * (180.0 / Double.pi)   // np.degrees(np.arctan2(...))
        let m = WarpAffine.rotation(centerX: Float(sub.width / 2), centerY: Float(sub.height / 2), degrees: angle)
        // Only the crop of the rotated sub-image is computed (numpy slicing clips it).
        let (x1, y1, x2, y2) = Self.project(rx, ry, rx + w, ry + h, angle: angle, height: sub.height, width: sub.width)
        let cx0 = min(max(0, x1), sub.width), cy0 = min(max(0, y1), sub.height)
        let cx1 = min(max(cx0, x2), sub.width), cy1 = min(max(cy0, y2), sub.height)
        return WarpAffine.cubic(sub, forward: m, width: sub.width, height: sub.height,
                                region: PixelRect(x: cx0, y: cy0, width: cx1 - cx0, height: cy1 - cy0))
    }

    /// extract_sub_image's region: image pixels where it overlaps, black elsewhere.
    static func subImage(_ img: DecodedImage, x: Int, y: Int, width: Int, height: Int) -> DecodedImage {
        if x >= 0, y >= 0, x + width <= img.width, y + height <= img.height {
            return img.cropped(x: x, y: y, width: width, height: height)
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let x0 = max(0, x), y0 = max(0, y), x1 = min(img.width, x + width), y1 = min(img.height, y + height)
        if x1 > x0 && y1 > y0 {
            for row in y0..<y1 {
                let src = (row * img.width + x0) * 3, dst = ((row - y) * width + (x0 - x)) * 3
                out.replaceSubrange(dst..<(dst + (x1 - x0) * 3), with: img.pixels[src..<(src + (x1 - x0) * 3)])
            }
        }
        return DecodedImage(width: width, height: height, pixels: out)
    }

    /// project_facial_area: the box (x1, y1, x2, y2) after rotating the image
    /// by `angle` degrees about its centre, in deepface's float64 arithmetic.
    static func project(_ fx1: Int, _ fy1: Int, _ fx2: Int, _ fy2: Int, angle degrees: Double, height: Int, width: Int) -> (Int, Int, Int, Int) {
        let direction = degrees >= 0 ? 1.0 : -1.0
        var a = fmod(abs(degrees), 360)   // Python's % on a non-negative float
        if a == 0 { return (fx1, fy1, fx2, fy2) }
        a = a * Double.pi / 180
        let x = Double(fx1 + fx2) / 2 - Double(width) / 2
        let y = Double(fy1 + fy2) / 2 - Double(height) / 2
        var xNew = x * cos(a) + y * direction * sin(a)
        var yNew = -x * direction * sin(a) + y * cos(a)
        xNew = xNew + Double(width) / 2
        yNew = yNew + Double(height) / 2
        let halfW = Double(fx2 - fx1) / 2, halfH = Double(fy2 - fy1) / 2
        let x1 = max(Int(xNew - halfW), 0), y1 = max(Int(yNew - halfH), 0)
        let x2 = min(Int(xNew + halfW), width), y2 = min(Int(yNew + halfH), height)
        return (x1, y1, x2, y2)
    }

    /// Python's round(v, 2): the double nearest the correctly rounded decimal.
    static func roundedLikePython(_ v: Double) -> Double {
        guard v.isFinite else { return v }
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([v]) { vsnprintf(&buffer, 64, "%.2f", $0) }
        return strtod(buffer, nil)
    }
}
