import FacecCore
import FacecDetectKernels
#if canImport(Glibc)
import Glibc
#endif

/// One candidate face of mtcnn 1.0.0's cascade: corners, score, and (after
/// the O-Net) five landmarks, x then y. float64 as mtcnn keeps them.
package struct MTCNNCandidate: Equatable, Sendable {
    package var x1, y1, x2, y2, score: Double
    package var landmarks: [Double] = []

    package init(x1: Double, y1: Double, x2: Double, y2: Double, score: Double, landmarks: [Double] = []) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2; self.score = score; self.landmarks = landmarks
    }
}

/// mtcnn 1.0.0's box arithmetic (`mtcnn/utils/bboxes.py`, `images.py`,
/// `landmarks.py`; docs/mtcnn-spec.md §2-6), operation for operation in the
/// same precision, so that facec's MTCNN proposes, keeps and moves exactly
/// the boxes mtcnn does. Checked against mtcnn's own functions
/// (MTCNNBoxesTests).
package enum MTCNNBoxes {
    /// The pyramid's scales for a `width` × `height` image (min face 20,
    /// factor 0.709, smallest input 12): `round(−(ln(min/12) / ln 0.709 + 1))`
    /// of them, half to even, 0.6 · 0.709^k. Not the classic "while ≥ 12" loop.
    package static func pyramidScales(width: Int, height: Int, minFaceSize: Double = 20, factor: Double = 0.709) -> [Double] {
        let minDim = Double(min(width, height))
        let count = (-((log(minDim / 12) / log(factor)) + 1)).rounded(.toNearestOrEven)
        guard count > 0, count.isFinite else { return [] }
        return (0..<min(Int(count), 100)).map { 12 / minFaceSize * pow(factor, Double($0)) }
    }

    /// P-Net's raw proposals from `rows` rows × `width` cells of its merged
    /// output (per cell: 4 box offsets, then the 2 face logits) whose first
    /// row is row `firstRow` of the level, in C order: cells whose face
    /// probability (TensorFlow's softmax in float32) is above `threshold`
    /// (compared in float32), each a 12-pixel cell at stride 2 moved by its
    /// regression times 11, in the level's pixels.
    package static func cells(_ heads: UnsafePointer<Float>, rows: Int, width: Int, firstRow: Int, threshold: Float) -> [MTCNNCandidate] {
        cells(rows: rows, width: width, firstRow: firstRow, threshold: threshold,
              score: { faceProbability(heads[6 * $0 + 4], heads[6 * $0 + 5]) }, offsets: { heads + 6 * $0 })
    }

    /// `generate_bounding_box`'s loop: `score(cell)` and `offsets(cell)` of
    /// each cell, row by row.
    @inline(__always)
    static func cells(rows: Int, width: Int, firstRow: Int, threshold: Float,
                      score: (Int) -> Float, offsets: (Int) -> UnsafePointer<Float>) -> [MTCNNCandidate] {
        var out: [MTCNNCandidate] = []
        for y in 0..<rows {
            for x in 0..<width {
                let s = score(y * width + x)
                guard s > threshold else { continue }
                let r = offsets(y * width + x), gy = firstRow + y
                let x1 = Double(2 * x + 1) + Double(r[0]) * 11, y1 = Double(2 * gy + 1) + Double(r[1]) * 11
                let x2 = Double(2 * x + 12) + Double(r[2]) * 11, y2 = Double(2 * gy + 12) + Double(r[3]) * 11
                out.append(MTCNNCandidate(x1: x1, y1: y1, x2: x2, y2: y2, score: Double(s)))
            }
        }
        return out
    }

    /// A level's proposals in score order, mapped back by its scale.
    package static func scaled(_ cells: [MTCNNCandidate], scale: Double) -> [MTCNNCandidate] {
        sortedByScore(cells).map {
            MTCNNCandidate(x1: $0.x1 / scale, y1: $0.y1 / scale, x2: $0.x2 / scale, y2: $0.y2 / scale, score: $0.score)
        }
    }

    /// Softmax over two logits, channel 1 (face), as TensorFlow's CPU kernel
    /// computes it (`TFSoftmax`).
    @inline(__always)
    package static func faceProbability(_ l0: Float, _ l1: Float) -> Float {
        TFSoftmax.secondOfTwo(l0, l1)
    }

    /// P-Net's proposals from one scale's outputs, `reg` [h][w][4] and `prob`
    /// [h][w][2] (channel 1 = face): cells whose face probability is above
    /// 0.6 (compared in float32), in score order, mapped back by `scale`.
    package static func proposals(reg: UnsafePointer<Float>, prob: UnsafePointer<Float>, height: Int, width: Int,
                                  scale: Double) -> [MTCNNCandidate] {
        scaled(cells(rows: height, width: width, firstRow: 0, threshold: 0.6, score: { prob[2 * $0 + 1] }, offsets: { reg + 4 * $0 }),
               scale: scale)
    }

    /// Highest score first, tied scores in the order mtcnn's
    /// `np.argsort(scores)[::-1]` leaves them (`NumpyArgsort`): which of two
    /// tied, overlapping boxes the suppression keeps depends on it.
    package static func sortedByScore(_ c: [MTCNNCandidate]) -> [MTCNNCandidate] {
        NumpyArgsort.descending(c.map(\.score)).map { c[$0] }
    }

    package enum Overlap: Sendable { case union, min }

    /// mtcnn's suppression, which is not the greedy kind: a candidate is
    /// dropped when ANY earlier one (kept or not) overlaps it by more than
    /// `threshold`. Areas without +1; a 0/0 overlap never suppresses.
    package static func suppress(_ input: [MTCNNCandidate], threshold: Double, overlap: Overlap,
                                 sortFirst: Bool) -> [MTCNNCandidate] {
        let c = sortFirst ? sortedByScore(input) : input
        let areas = c.map { ($0.x2 - $0.x1) * ($0.y2 - $0.y1) }
        var kept: [MTCNNCandidate] = []
        for j in c.indices {
            var suppressed = false
            for i in 0..<j where overlapRatio(c[i], c[j], areas[i], areas[j], overlap) > threshold {
                suppressed = true
                break
            }
            if !suppressed { kept.append(c[j]) }
        }
        return kept
    }

    static func overlapRatio(_ a: MTCNNCandidate, _ b: MTCNNCandidate, _ areaA: Double, _ areaB: Double, _ overlap: Overlap) -> Double {
        let w = Swift.max(0, Swift.min(a.x2, b.x2) - Swift.max(a.x1, b.x1))
        let h = Swift.max(0, Swift.min(a.y2, b.y2) - Swift.max(a.y1, b.y1))
        let inter = w * h
        switch overlap {
        case .union: return inter / (areaA + areaB - inter)
        case .min: return inter / Swift.min(areaA, areaB)
        }
    }

    /// `resize_to_square`: the longer side, kept centred (float64, mtcnn's order).
    package static func squared(_ c: MTCNNCandidate) -> MTCNNCandidate {
        var s = c
        let h = c.y2 - c.y1, w = c.x2 - c.x1, side = Swift.max(w, h)
        s.x1 = c.x1 + w * 0.5 - side * 0.5
        s.y1 = c.y1 + h * 0.5 - side * 0.5
        s.x2 = s.x1 + side
        s.y2 = s.y1 + side
        return s
    }

    /// `adjust_bboxes` as it happens in mtcnn: the network's offsets are a
    /// TensorFlow float32 tensor, so numpy hands the update to TF and it is
    /// done in float32: corner + offset × (side + 1).
    package static func calibrated(_ c: MTCNNCandidate, offsets o: (Float, Float, Float, Float)) -> MTCNNCandidate {
        var r = c
        let w = Float(c.x2 - c.x1 + 1), h = Float(c.y2 - c.y1 + 1)
        r.x1 = Double(Float(c.x1) + o.0 * w)
        r.y1 = Double(Float(c.y1) + o.1 * h)
        r.x2 = Double(Float(c.x2) + o.2 * w)
        r.y2 = Double(Float(c.y2) + o.3 * h)
        return r
    }

    /// `adjust_landmarks`: O-Net's relative points (x0...x4, y0...y4) placed
    /// in the input box, computed in float64 and stored as float32 as mtcnn's
    /// array does.
    package static func landmarks(_ relative: UnsafePointer<Float>, in c: MTCNNCandidate) -> [Double] {
        let w = c.x2 - c.x1 + 1, h = c.y2 - c.y1 + 1
        return (0..<5).map { Double(Float(w * Double(relative[$0]) + c.x1 - 1)) }
            + (0..<5).map { Double(Float(h * Double(relative[5 + $0]) + c.y1 - 1)) }
    }
}
