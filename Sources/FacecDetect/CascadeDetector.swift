import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// A detection: the box in image pixels and, for detectors run with reject
/// levels (deepface's faces), the sum of the cascade's last stage.
public struct Detection: Sendable, Equatable {
    public var x, y, width, height: Int
    public var weight: Double
    public init(x: Int, y: Int, width: Int, height: Int, weight: Double = 0) {
        self.x = x; self.y = y; self.width = width; self.height = height; self.weight = weight
    }
}

/// OpenCV's `CascadeClassifier::detectMultiScale` for a HAAR stump cascade,
/// ported for the same result on the same 8-bit image (see ARCHITECTURE.md):
/// the scale list (factor 1, ×scaleFactor while the window fits, in double,
/// stored as float), each scale's image resized from the original with
/// `LinearExactResize`, integral images of sums and squares in wrapping
/// 32-bit integers, windows every 2 pixels below scale 2 (every pixel from
/// 2), a window skipped after one whose first stage failed, the variance
/// normalisation (`1/sqrt(area·Σx² − (Σx)²)` over the window inset by one
/// pixel; windows with too little contrast rejected), float feature values
/// and double stage sums, candidates in OpenCV's one-thread order, then
/// `groupRectangles` with eps 0.2.
public struct CascadeDetector: Sendable {
    public let cascade: HaarCascade
    /// Stumps flattened, and each feature's rectangles as (x, y, w, h, weight) with weight 0 padding.
    private let stumpFeature: [Int32], stumpThreshold: [Float], stumpLeft: [Float], stumpRight: [Float]
    private let stageCount: [Int32], stageThreshold: [Float]
    private let rects: [HaarCascade.Rect]   // 3 per feature

    public init(_ cascade: HaarCascade) {
        precondition(cascade.problem() == nil, "CascadeDetector: invalid cascade")
        self.cascade = cascade
        stumpFeature = cascade.stumps.map { Int32($0.feature) }
        stumpThreshold = cascade.stumps.map(\.threshold)
        stumpLeft = cascade.stumps.map(\.left)
        stumpRight = cascade.stumps.map(\.right)
        stageCount = cascade.stages.map { Int32($0.count) }
        stageThreshold = cascade.stages.map(\.threshold)
        var r: [HaarCascade.Rect] = []
        for f in cascade.features {
            for k in 0..<3 { r.append(k < f.count ? f[k] : HaarCascade.Rect(x: 0, y: 0, width: 0, height: 0, weight: 0)) }
        }
        rects = r
    }

    /// The scales OpenCV scans for an image of this size (as float factors).
    func scales(width: Int, height: Int, scaleFactor: Double) -> [Float] {
        let W = cascade.windowWidth, H = cascade.windowHeight
        guard width >= W, height >= H else { return [] }
        var all: [Float] = []
        var factor = 1.0
        while all.count < 10_000 {
            let ww = lrint(Double(W) * factor), wh = lrint(Double(H) * factor)
            if ww > width || wh > height { break }
            all.append(Float(factor))
            factor *= scaleFactor
        }
        var out: [Float] = []
        for s in all {
            // The window size again, now in float arithmetic (int * float in OpenCV).
            let ww = Int(lrintf(Float(W) * s)), wh = Int(lrintf(Float(H) * s))
            if ww > width || wh > height { break }
            out.append(s)
        }
        return out
    }

    /// All windows of all scales that pass every stage, in OpenCV's order.
    func candidates(_ gray: GrayImage, scaleFactor: Double, withWeights: Bool) -> [Detection] {
        var found: [Detection] = []
        for s in scales(width: gray.width, height: gray.height, scaleFactor: scaleFactor) {
            scan(gray, scale: s, into: &found)
        }
        return found
    }

    /// detectMultiScale(image, scaleFactor, minNeighbors): grouped detections;
    /// `withWeights` reports each group's best last-stage sum (detectMultiScale3
    /// with outputRejectLevels, as deepface calls it for faces).
    public func detect(_ gray: GrayImage, scaleFactor: Double, minNeighbors: Int, withWeights: Bool) -> [Detection] {
        let found = candidates(gray, scaleFactor: scaleFactor, withWeights: withWeights)
        return RectangleGrouping.group(found, threshold: minNeighbors, eps: 0.2, useWeights: withWeights)
    }

    // MARK: one scale

    /// Rows of integral images computed per band of window rows.
    static let bandRows = 32

    private func scan(_ gray: GrayImage, scale sc: Float, into found: inout [Detection]) {
        let W = cascade.windowWidth, H = cascade.windowHeight
        let sw = Int(lrintf(Float(gray.width) / sc)), sh = Int(lrintf(Float(gray.height) / sc))
        guard sw > 0, sh > 0 else { return }
        let step = sc >= 2 ? 1 : 2
        let workW = max(sw + 1 - W, 0), workH = max(sh + 1 - H, 0)
        guard workW > 0, workH > 0 else { return }
        let winW = Int(lrintf(Float(W) * sc)), winH = Int(lrintf(Float(H) * sc))
        let resize = LinearExactResize(gray, width: sw, height: sh)
        var scratch = resize.makeScratch()
        let stride = sw + 1
        // Integral rows [top, top + rowsHeld) are in the buffers (row index relative to `top`).
        let capacity = Self.bandRows + H + 1
        var sum = [Int32](repeating: 0, count: capacity * stride)
        var sq = [Int32](repeating: 0, count: capacity * stride)
        var line = [UInt8](repeating: 0, count: sw)
        var top = 0, held = 1   // integral row 0 (zeros) held
        var nextImageRow = 0

        // Feature offsets (4 corners × 3 rects) for this stride.
        var offsets = [Int32](repeating: 0, count: rects.count * 4)
        for (i, r) in rects.enumerated() {
            offsets[4 * i] = Int32(r.x + stride * r.y)
            offsets[4 * i + 1] = Int32(r.x + r.width + stride * r.y)
            offsets[4 * i + 2] = Int32(r.x + stride * (r.y + r.height))
            offsets[4 * i + 3] = Int32(r.x + r.width + stride * (r.y + r.height))
        }
        let norm = (n0: Int32(1 + stride), n1: Int32(1 + (W - 2) + stride), n2: Int32(1 + stride * (1 + H - 2)), n3: Int32(1 + (W - 2) + stride * (1 + H - 2)))
        let area = Double((W - 2) * (H - 2))

        var y = 0
        while y < workH {
            // Make sure integral rows y ... y + H are held.
            let needed = y + H + 1
            if top + held < needed {
                let target = min(needed + Self.bandRows, sh + 1)
                if target - top > capacity {
                    // Move the rows still needed (from y) to the front.
                    let keep = top + held - y
                    sum.withUnsafeMutableBufferPointer { b in (b.baseAddress!).update(from: b.baseAddress! + (y - top) * stride, count: keep * stride) }
                    sq.withUnsafeMutableBufferPointer { b in (b.baseAddress!).update(from: b.baseAddress! + (y - top) * stride, count: keep * stride) }
                    held = keep
                    top = y
                }
                while top + held < target {
                    line.withUnsafeMutableBufferPointer { resize.row(nextImageRow, into: $0.baseAddress!, scratch: &scratch) }
                    nextImageRow += 1
                    let r = held
                    sum.withUnsafeMutableBufferPointer { s in
                        sq.withUnsafeMutableBufferPointer { q in
                            line.withUnsafeBufferPointer { px in
                                let prev = (r - 1) * stride, cur = r * stride
                                s[cur] = 0; q[cur] = 0
                                var rs: Int32 = 0, rq: Int32 = 0
                                for c in 0..<sw {
                                    let v = Int32(px[c])
                                    rs &+= v; rq &+= v &* v
                                    s[cur + c + 1] = s[prev + c + 1] &+ rs
                                    q[cur + c + 1] = q[prev + c + 1] &+ rq
                                }
                            }
                        }
                    }
                    held += 1
                }
            }
            let rowBase = (y - top) * stride
            sum.withUnsafeBufferPointer { s in
                sq.withUnsafeBufferPointer { q in
                    offsets.withUnsafeBufferPointer { ofs in
                        var x = 0
                        while x < workW {
                            let p = s.baseAddress! + rowBase + x, pq = q.baseAddress! + rowBase + x
                            let valsum = p[Int(norm.n0)] &- p[Int(norm.n1)] &- p[Int(norm.n2)] &+ p[Int(norm.n3)]
                            let valsq = UInt32(bitPattern: pq[Int(norm.n0)] &- pq[Int(norm.n1)] &- pq[Int(norm.n2)] &+ pq[Int(norm.n3)])
                            var nf = area * Double(valsq) - Double(valsum) * Double(valsum)
                            var result: Int
                            var weight = 0.0
                            if nf > 0 {
                                nf = nf.squareRoot()
                                let vnf = Float(1.0 / nf)
                                if area * Double(vnf) < 1e-1 {
                                    (result, weight) = evaluate(p, ofs, vnf)
                                } else {
                                    result = -1
                                }
                            } else {
                                result = -1
                            }
                            if result == 1 {
                                found.append(Detection(x: Int(lrintf(Float(x) * sc)), y: Int(lrintf(Float(y) * sc)), width: winW, height: winH, weight: weight))
                            }
                            if result == 0 { x += step }
                            x += step
                        }
                    }
                }
            }
            y += step
        }
    }

    /// predictOrderedStump: 1 when the window passes every stage, else minus
    /// the failing stage's index (0 for the first); and the last sum computed.
    @inline(__always)
    private func evaluate(_ p: UnsafePointer<Int32>, _ ofs: UnsafeBufferPointer<Int32>, _ vnf: Float) -> (Int, Double) {
        var k = 0
        var tmp = 0.0
        for si in 0..<stageCount.count {
            tmp = 0
            let n = Int(stageCount[si])
            for _ in 0..<n {
                let f = Int(stumpFeature[k])
                let r = 3 * f, o = 12 * f
                var ret = rects[r].weight * Float(p[Int(ofs[o])] &- p[Int(ofs[o + 1])] &- p[Int(ofs[o + 2])] &+ p[Int(ofs[o + 3])])
                    + rects[r + 1].weight * Float(p[Int(ofs[o + 4])] &- p[Int(ofs[o + 5])] &- p[Int(ofs[o + 6])] &+ p[Int(ofs[o + 7])])
                if rects[r + 2].weight != 0 {
                    ret += rects[r + 2].weight * Float(p[Int(ofs[o + 8])] &- p[Int(ofs[o + 9])] &- p[Int(ofs[o + 10])] &+ p[Int(ofs[o + 11])])
                }
                let value = ret * vnf
                tmp += Double(value < stumpThreshold[k] ? stumpLeft[k] : stumpRight[k])
                k += 1
            }
            if tmp < Double(stageThreshold[si]) { return (-si, tmp) }
        }
        return (1, tmp)
    }
}
