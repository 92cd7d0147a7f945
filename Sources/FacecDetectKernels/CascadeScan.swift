import FacecCore
#if canImport(Glibc)
import Glibc

#endif

extension CascadeDetector {
    /// Rows of integral images computed at a time.
    static let bandRows = 32
    /// The work bound (see `scan`): stump evaluations per window position, and a floor.
    package static let maxStumpsPerWindow = 256, minimumBudget = 1 << 20

    /// Scans the window rows of one band of one scale, appending the windows
    /// that pass every stage in OpenCV's order (row by row, left to right).
    /// With `measure`, returns the seconds spent making resized rows and
    /// their integrals. Stops (`exhausted`) when the band's stump
    /// evaluations pass `maxStumpsPerWindow` per window position so far: real
    /// cascades use a few on average, so only a hostile one (stages that
    /// everything passes) gets there, and the work per photo stays bounded.
    func scan(band: Band, into found: inout [Detection], measure: Bool = false) -> (pyramidSeconds: Double, exhausted: Bool) {
        var pyramidSeconds = 0.0
        var work = 0, budget = Self.minimumBudget
        let scan = band.scan, resize = scan.resize
        let sc = scan.scale, step = scan.step
        let W = cascade.windowWidth, H = cascade.windowHeight
        let winW = Int(lrintf(Float(W) * sc)), winH = Int(lrintf(Float(H) * sc))
        // Resized columns from the first window's left edge to the last one's right.
        let c0 = scan.windows.lowerBound * step
        let columns = c0..<((scan.windows.upperBound - 1) * step + W)
        var scratch = resize.makeScratch(columns: columns)
        let stride = columns.count + 1
        // Integral row i, column j holds the sum over resized rows [y0, y0 + i)
        // and columns [c0, c0 + j): the band starts from zero, and window sums
        // (differences) come out the same as from the whole image's integral.
        let y0 = band.rows.lowerBound
        let capacity = Self.bandRows + H + 1
        // Padding: the vector stages read a little past the last window.
        let padding = 16 * 2 + 32
        var sum = [Int32](repeating: 0, count: capacity * stride + padding)
        var sq = [Int32](repeating: 0, count: capacity * stride + padding)
        var line = [UInt8](repeating: 0, count: columns.count)
        var top = 0, held = 1   // integral rows [top, top + held) are in the buffers; row 0 is zeros
        var nextImageRow = y0

        let windows = scan.windows.count
        var codes = [Int16](repeating: 0, count: (windows + 7) / 8 * 8)
        var factors = [Float](repeating: 0, count: codes.count)
        var sums = [Double](repeating: 0, count: codes.count)
        let vectors = StageVectors(self, stride: stride)
        // Each feature's 12 corner offsets (4 per rectangle) for this stride.
        var offsets = [Int32](repeating: 0, count: rects.count * 4)
        for (i, r) in rects.enumerated() {
            offsets[4 * i] = Int32(r.x + stride * r.y)
            offsets[4 * i + 1] = Int32(r.x + r.width + stride * r.y)
            offsets[4 * i + 2] = Int32(r.x + stride * (r.y + r.height))
            offsets[4 * i + 3] = Int32(r.x + r.width + stride * (r.y + r.height))
        }

        var y = y0
        while y < band.rows.upperBound {
            let r = y - y0
            // Integral rows r ... r + H must be held.
            if top + held < r + H + 1 {
                let target = min(r + H + 1 + Self.bandRows, resize.height - y0 + 1)
                if target - top > capacity {
                    // Keep the rows still needed (from r) at the front.
                    let keep = top + held - r
                    sum.withUnsafeMutableBufferPointer { b in b.baseAddress!.update(from: b.baseAddress! + (r - top) * stride, count: keep * stride) }
                    sq.withUnsafeMutableBufferPointer { b in b.baseAddress!.update(from: b.baseAddress! + (r - top) * stride, count: keep * stride) }
                    held = keep
                    top = r
                }
                let start = measure ? monotonicSeconds() : 0
                while top + held < target {
                    line.withUnsafeMutableBufferPointer { resize.row(nextImageRow, into: $0.baseAddress!, scratch: &scratch) }
                    nextImageRow += 1
                    Self.appendIntegralRow(line, at: held, stride: stride, sum: &sum, sq: &sq)
                    held += 1
                }
                if measure { pyramidSeconds += monotonicSeconds() - start }
            }
            let rowBase = (r - top) * stride
            sum.withUnsafeBufferPointer { s in
                sq.withUnsafeBufferPointer { q in
                    offsets.withUnsafeBufferPointer { ofs in
                    codes.withUnsafeMutableBufferPointer { c in
                        factors.withUnsafeMutableBufferPointer { f in
                        sums.withUnsafeMutableBufferPointer { t in
                            let p = s.baseAddress! + rowBase
                            work += vectors.classify(sum: p, sq: q.baseAddress! + rowBase, count: windows, step: step,
                                             codes: c.baseAddress!, factors: f.baseAddress!, sums: t.baseAddress!)
                            // The one-window-at-a-time walk: a window failing stage 0
                            // makes the scan skip the next one.
                            var k = 0
                            while k < windows {
                                let code = Int(c[k])
                                var result: Int, weight = 0.0
                                if code < 0 {
                                    result = -1
                                } else if code & 1 == 0 {
                                    result = -(code >> 1)
                                } else if code >> 1 == stageCount.count {
                                    (result, weight) = (1, t[k])
                                } else {
                                    let st = code >> 1
                                    (result, weight) = evaluate(p + k * step, ofs, vnf: f[k], fromStage: st, stump: Int(stageStart[st]), work: &work)
                                }
                                if result == 1 {
                                    let x = c0 + k * step
                                    found.append(Detection(x: Int(lrintf(Float(x) * sc)), y: Int(lrintf(Float(y) * sc)),
                                                           width: winW, height: winH, weight: weight))
                                }
                                k += result == 0 ? 2 : 1
                            }
                        }
                        }
                    }
                    }
                }
            }
            // The bound grows with the windows scanned, so a hostile cascade is stopped early.
            budget += Self.maxStumpsPerWindow * windows
            if work > budget { return (pyramidSeconds, true) }
            y += step
        }
        return (pyramidSeconds, false)
    }

    /// Integral row `r` from row `r - 1` and one image row (wrapping 32-bit sums).
    @inline(__always)
    static func appendIntegralRow(_ line: [UInt8], at r: Int, stride: Int, sum: inout [Int32], sq: inout [Int32]) {
        sum.withUnsafeMutableBufferPointer { s in
            sq.withUnsafeMutableBufferPointer { q in
                line.withUnsafeBufferPointer { px in
                    let prev = (r - 1) * stride, cur = r * stride
                    s[cur] = 0; q[cur] = 0
                    var rs: Int32 = 0, rq: Int32 = 0
                    for c in 0..<px.count {
                        let v = Int32(px[c])
                        rs &+= v; rq &+= v &* v
                        s[cur + c + 1] = s[prev + c + 1] &+ rs
                        q[cur + c + 1] = q[prev + c + 1] &+ rq
                    }
                }
            }
        }
    }

    /// predictOrderedStump from `fromStage` on (stump index `stump`): 1 when
    /// the window passes every remaining stage, else minus the failing
    /// stage's index; and the last stage sum computed.
    @inline(__always)
    func evaluate(_ p: UnsafePointer<Int32>, _ ofs: UnsafeBufferPointer<Int32>, vnf: Float, fromStage: Int, stump: Int,
                  work: inout Int) -> (Int, Double) {
        var k = stump
        defer { work += k - stump }
        var tmp = 0.0
        for si in fromStage..<stageCount.count {
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
