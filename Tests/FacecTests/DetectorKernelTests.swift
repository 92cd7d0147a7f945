import Foundation
import Testing
import FacecFormat
import FacecImporters
@testable import FacecDetectKernels

/// The detector's vector stages (`StageVectors`: variance normalisation and
/// the first stages for eight windows at once, every pixel or every second)
/// against a plain per-window loop written from OpenCV's
/// `HaarEvaluator::setWindow` and `predictOrderedStump`, on integral images
/// made here, through the conformance harness: every window must get the
/// same verdict, variance factor and stage sum, bit for bit.
@Suite struct DetectorKernelTests {
    static let face: CascadeDetector = {
        let path = OpenCVCascade.debianDirectory + "/" + OpenCVCascade.faceFile
        return CascadeDetector(try! OpenCVCascade.load(path: path))
    }()

    /// A smooth image with texture (so windows reach deep stages), flat
    /// patches (rejected for low variance) and noise.
    static func image(width: Int, height: Int, seed: UInt64) -> [UInt8] {
        var rng = Conformance.Rng(state: seed)
        var px = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                if (x / 40 + y / 40) % 5 == 0 { px[y * width + x] = 90; continue }
                let wave: Float = 60 * sinf(Float(x) * 0.21) * cosf(Float(y) * 0.17)
                let slope: Float = 40 * sinf(Float(x + y) * 0.05)
                let v: Float = 128 + wave + slope + 20 * rng.next()
                px[y * width + x] = UInt8(max(0, min(255, v)))
            }
        }
        return px
    }

    /// The plain verdict for the window whose top-left integral entry is at
    /// `base`: -1 (low variance), -s (failed stage s), 1 (passed all), with
    /// the variance factor and the last stage sum computed.
    static func reference(_ d: CascadeDetector, sum: [Int32], sq: [Int32], base: Int, stride: Int) -> (Int, Float, Double) {
        let W = d.cascade.windowWidth, H = d.cascade.windowHeight
        func at(_ a: [Int32], _ x: Int, _ y: Int) -> Int32 { a[base + y * stride + x] }
        // The variance rectangle: one pixel in from every side.
        let s = at(sum, 1, 1) &- at(sum, W - 1, 1) &- at(sum, 1, H - 1) &+ at(sum, W - 1, H - 1)
        let q = at(sq, 1, 1) &- at(sq, W - 1, 1) &- at(sq, 1, H - 1) &+ at(sq, W - 1, H - 1)
        let area = Double((W - 2) * (H - 2))
        let nf = area * Double(UInt32(bitPattern: q)) - Double(s) * Double(s)
        let vnf = Float(1 / nf.squareRoot())
        guard nf > 0, area * Double(vnf) < 0.1 else { return (-1, vnf, 0) }
        var k = 0, total = 0.0
        for (si, stage) in d.cascade.stages.enumerated() {
            total = 0
            for _ in 0..<stage.count {
                let rects = d.cascade.features[d.cascade.stumps[k].feature]
                var ret: Float = 0
                for (j, r) in rects.enumerated() {
                    let box = Float(at(sum, r.x, r.y) &- at(sum, r.x + r.width, r.y) &- at(sum, r.x, r.y + r.height) &+ at(sum, r.x + r.width, r.y + r.height))
                    ret = j == 0 ? r.weight * box : ret + r.weight * box
                }
                let stump = d.cascade.stumps[k]
                total += Double(ret * vnf < stump.threshold ? stump.left : stump.right)
                k += 1
            }
            if total < Double(stage.threshold) { return (-si, vnf, total) }
        }
        return (1, vnf, total)
    }

    @Test(arguments: [(1, 200, 60, UInt64(1)), (2, 200, 60, UInt64(2)), (1, 97, 41, UInt64(3)), (2, 331, 33, UInt64(4))])
    func vectorStagesMatchAPlainLoop(_ c: (step: Int, width: Int, height: Int, seed: UInt64)) {
        let d = Self.face
        let W = d.cascade.windowWidth, H = d.cascade.windowHeight
        let px = Self.image(width: c.width, height: c.height, seed: c.seed)
        // Integral images with a zero first row and column; padded past the
        // end, where the vector stages may read.
        let stride = c.width + 1, padding = 16 * 2 + 32 + 8 * c.step + W
        var sum = [Int32](repeating: 0, count: (c.height + 1) * stride + padding), sq = sum
        for y in 0..<c.height {
            for x in 0..<c.width {
                let v = Int32(px[y * c.width + x]), i = (y + 1) * stride + x + 1
                sum[i] = sum[i - 1] &+ sum[i - stride] &- sum[i - stride - 1] &+ v
                sq[i] = sq[i - 1] &+ sq[i - stride] &- sq[i - stride - 1] &+ v &* v
            }
        }
        let vectors = StageVectors(d, stride: stride)
        let windows = (c.width - W) / c.step + 1
        var mismatches = 0, deepest = 0
        for y in 0...(c.height - H) {
            var codes = [Int16](repeating: 0, count: (windows + 7) / 8 * 8)
            var factors = [Float](repeating: 0, count: codes.count), sums = [Double](repeating: 0, count: codes.count)
            sum.withUnsafeBufferPointer { s in sq.withUnsafeBufferPointer { q in
                _ = vectors.classify(sum: s.baseAddress! + y * stride, sq: q.baseAddress! + y * stride, count: windows, step: c.step,
                                     codes: &codes, factors: &factors, sums: &sums)
            } }
            for k in 0..<windows {
                let (verdict, vnf, last) = Self.reference(d, sum: sum, sq: sq, base: y * stride + k * c.step, stride: stride)
                let code = Int(codes[k])
                let same: Bool
                if code < 0 {
                    same = verdict == -1
                } else if code & 1 == 0 {
                    same = verdict == -(code >> 1) && factors[k] == vnf
                } else if code >> 1 == d.cascade.stages.count {
                    same = verdict == 1 && factors[k] == vnf && sums[k] == last
                } else {
                    // Alive at stage code/2: the reference fails no earlier.
                    same = factors[k] == vnf && (verdict == 1 || -verdict >= code >> 1)
                }
                if !same { mismatches += 1 }
                if code >= 0 { deepest = max(deepest, code >> 1) }
            }
        }
        Conformance.expect("haar stages", shape: "\(c.width)×\(c.height) step \(c.step)", precision: .exact, error: Double(mismatches))
        // The image must take windows past the first stages, or the check says little.
        #expect(deepest >= 2, "windows reached stage \(deepest) at most")
    }
}
