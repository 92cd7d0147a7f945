import FacecCore
import FacecDetectKernels
import FacecImage

extension FaceDetector {
    /// deepface's extract_faces around its mtcnn backend (MtCnn.py and
    /// detection.py, 0.0.103): mtcnn's faces in its order, the eyes taken
    /// from its keypoints with deepface's swap (deepface's left eye is
    /// mtcnn's "right_eye", the person's left), then the same alignment,
    /// crop and clipping as every deepface backend. No confidence threshold.
    /// Timings: the networks' stages count as `cascade`.
    func detectMTCNN(_ mtcnn: MTCNNDetector, _ photo: DecodedImage, measure: Bool) -> (faces: [DetectedFace], timings: DetectionTimings?) {
        var t = DetectionTimings()
        var clock = measure ? monotonicSeconds() : 0
        let (found, image) = mtcnn.detect(photo, threads: threads)
        if measure {
            let now = monotonicSeconds()
            t.cascade = (now - clock) * 1e3
            clock = now
        }
        let wb = image.borderX, hb = image.borderY, width = photo.width, height = photo.height
        var out: [DetectedFace] = []
        for f in found {
            let box = Detection(x: f.x, y: f.y, width: f.width, height: f.height)
            let leftEye = f.keypoints[1], rightEye = f.keypoints[0]
            let crop = align(photo, border: (wb, hb), box: box, leftEye: leftEye, rightEye: rightEye)
            guard crop.width > 0, crop.height > 0 else { continue }   // deepface skips empty crops
            let x = max(0, f.x - wb), y = max(0, f.y - hb)
            let w = min(width - x - 1, f.width), h = min(height - y - 1, f.height)
            func inPhoto(_ p: PixelPoint) -> PixelPoint? {
                let q = PixelPoint(x: p.x - wb, y: p.y - hb)
                return q.x >= 0 && q.x < width && q.y >= 0 && q.y < height ? q : nil
            }
            out.append(DetectedFace(x: x, y: y, width: w, height: h, leftEye: inPhoto(leftEye), rightEye: inPhoto(rightEye),
                                    confidence: Self.roundedLikePython(f.confidence), crop: crop))
        }
        if measure { t.alignment = (monotonicSeconds() - clock) * 1e3 }
        return (out, measure ? t : nil)
    }
}
