/// TensorFlow's two image operations that mtcnn 1.0.0 (deepface's "mtcnn"
/// backend) builds on, ported operation for operation from TF's CPU kernels
/// (`resize_area_op.cc`, `crop_and_resize_op.cc`; docs/mtcnn-spec.md §2, §4)
/// so that the detector's inputs, and so its boxes, are TF's to the bit:
/// float32 arithmetic throughout, no fused multiply-adds (Swift never
/// contracts `a * b + c`), the same order of sums, the same odd constants.
/// Images are HWC float32, channels interleaved.
package enum TFImageOps {
    /// `tf.image.resize(method=AREA)` (align_corners false) of `src`
    /// [h][w][c] into `dst` [oh][ow][c]: each output the area-weighted mean
    /// of the input pixels its footprint covers.
    package static func resizeArea(_ src: UnsafePointer<Float>, height h: Int, width w: Int, channels c: Int,
                                   outHeight oh: Int, outWidth ow: Int, into dst: UnsafeMutablePointer<Float>) {
        resizeArea(rowAt: { src + $0 * w * c }, height: h, width: w, channels: c, outHeight: oh, outWidth: ow, rows: 0..<oh, into: dst)
    }

    /// Output rows `rows` of the resize, written one after the other from
    /// `dst`; input row i is at `rowAt(i)` (only the rows those outputs read
    /// are asked for).
    /// `uniform`: the input is `value` in every channel outside the rows and
    /// columns it names (mtcnn's black frame): a row sum over such pixels is
    /// then the same for every row, so it is computed once per column, with
    /// the same operations in the same order (bit-identical, ~4× less work
    /// on a framed photo, which is three quarters frame).
    package static func resizeArea(rowAt: (Int) -> UnsafePointer<Float>, height h: Int, width w: Int, channels c: Int,
                                   outHeight oh: Int, outWidth ow: Int, rows: Range<Int>,
                                   uniform: (rows: Range<Int>, columns: Range<Int>, value: Float)? = nil,
                                   into dst: UnsafeMutablePointer<Float>) {
        let hs = Float(h) / Float(oh), ws = Float(w) / Float(ow)
        // TF: `const float scale = 1.0 / (height_scale * width_scale)`: a
        // float product, a double quotient, rounded to float.
        let scale = Float(1.0 / Double(hs * ws))
        let xs = (0..<ow).map { Span(output: $0, scale: ws, count: w) }
        if c == 3 {
            // mtcnn's pyramid: the same sums with the channels unrolled.
            let inside = uniform.map { $0.rows } ?? 0..<h, columns = uniform.map { $0.columns } ?? 0..<w
            // Per column: whether its span lies in the uniform frame, and the
            // row sum of a uniform row there (first × weight, middles, last × weight).
            let frameColumn = xs.map { $0.bounded($0.end - 1) < columns.lowerBound || $0.bounded($0.start) >= columns.upperBound }
            let uniformSum: [Float] = xs.map { xsp in
                let v = uniform?.value ?? 0
                var r = v * xsp.startWeight
                if xsp.start + 1 != xsp.end {
                    if xsp.start + 1 < xsp.end - 1 { for _ in (xsp.start + 1)..<(xsp.end - 1) { r += v } }
                    r += v * xsp.endWeight
                }
                return r
            }
            for y in rows {
                let ys = Span(output: y, scale: hs, count: h)
                let rowPointers = (ys.start..<ys.end).map { rowAt(ys.bounded($0)) }
                let rowWeights = (ys.start..<ys.end).map { ys.weight($0) }
                let rowInFrame = (ys.start..<ys.end).map { uniform != nil && !inside.contains(ys.bounded($0)) }
                let wholeRowInFrame = uniform != nil && !rowInFrame.contains(false)
                for x in 0..<ow {
                    let xsp = xs[x]
                    var s0: Float = 0, s1: Float = 0, s2: Float = 0
                    if wholeRowInFrame || (uniform != nil && frameColumn[x]) {
                        let u = uniformSum[x]
                        for wy in rowWeights { s0 += u * wy }
                        let o = dst + ((y - rows.lowerBound) * ow + x) * 3
                        o[0] = s0 * scale; o[1] = o[0]; o[2] = o[0]
                        continue
                    }
                    for (k, (row, wy)) in zip(rowPointers, rowWeights).enumerated() {
                        if rowInFrame[k] {
                            let u = uniformSum[x] * wy
                            s0 += u; s1 += u; s2 += u
                            continue
                        }
                        var p = row + xsp.bounded(xsp.start) * 3
                        var r0 = p[0] * xsp.startWeight, r1 = p[1] * xsp.startWeight, r2 = p[2] * xsp.startWeight
                        if xsp.start + 1 != xsp.end {
                            if xsp.start + 1 < xsp.end - 1 {
                                for j in (xsp.start + 1)..<(xsp.end - 1) {
                                    p = row + xsp.bounded(j) * 3
                                    r0 += p[0]; r1 += p[1]; r2 += p[2]
                                }
                            }
                            p = row + xsp.bounded(xsp.end - 1) * 3
                            r0 += p[0] * xsp.endWeight; r1 += p[1] * xsp.endWeight; r2 += p[2] * xsp.endWeight
                        }
                        s0 += r0 * wy; s1 += r1 * wy; s2 += r2 * wy
                    }
                    let o = dst + ((y - rows.lowerBound) * ow + x) * 3
                    o[0] = s0 * scale; o[1] = s1 * scale; o[2] = s2 * scale
                }
            }
            return
        }
        var sums = [Float](repeating: 0, count: c), rowSums = [Float](repeating: 0, count: c)
        for y in rows {
            let ys = Span(output: y, scale: hs, count: h)
            for x in 0..<ow {
                let xsp = xs[x]
                for k in 0..<c { sums[k] = 0 }
                for i in ys.start..<ys.end {
                    let row = rowAt(ys.bounded(i))
                    let wy = ys.weight(i)
                    // First column times its weight, the middle ones as they are
                    // (weight 1, not multiplied), the last times its weight.
                    var p = row + xsp.bounded(xsp.start) * c
                    for k in 0..<c { rowSums[k] = p[k] * xsp.startWeight }
                    if xsp.start + 1 != xsp.end {
                        if xsp.start + 1 < xsp.end - 1 {
                            for j in (xsp.start + 1)..<(xsp.end - 1) {
                                p = row + xsp.bounded(j) * c
                                for k in 0..<c { rowSums[k] += p[k] }
                            }
                        }
                        p = row + xsp.bounded(xsp.end - 1) * c
                        for k in 0..<c { rowSums[k] += p[k] * xsp.endWeight }
                    }
                    for k in 0..<c { sums[k] += rowSums[k] * wy }
                }
                let o = dst + ((y - rows.lowerBound) * ow + x) * c
                for k in 0..<c { o[k] = sums[k] * scale }
            }
        }
    }

    /// The input span of one output pixel along one axis (TF's
    /// CachedInterpolation): indices start..<end, the first and last weighted
    /// by how much of them the footprint [o·s, (o+1)·s) covers.
    struct Span {
        let start: Int, end: Int, count: Int
        let from: Float, to: Float, scale: Float
        let startWeight: Float, endWeight: Float

        init(output o: Int, scale s: Float, count n: Int) {
            from = Float(o) * s
            to = Float(o + 1) * s
            scale = s
            count = n
            start = Int(from.rounded(.down))
            end = Int(to.rounded(.up))
            startWeight = Self.weight(start, from, to, s)
            endWeight = Self.weight(end - 1, from, to, s)
        }

        static func weight(_ i: Int, _ a: Float, _ b: Float, _ s: Float) -> Float {
            let v = Float(i)
            if v < a { return v + 1 > b ? s : v + 1 - a }
            return v + 1 > b ? b - v : 1
        }

        func weight(_ i: Int) -> Float { Self.weight(i, from, to, scale) }

        func bounded(_ i: Int) -> Int { min(count - 1, max(0, i)) }
    }

    /// `tf.image.crop_and_resize` (bilinear, extrapolation value 0) of one box
    /// given as TF takes it, normalised (y1, x1, y2, x2 divided by the
    /// image's height and width), into `dst` [size][size][c]. Note TF's own
    /// mapping: normalised coordinates are scaled by (h − 1), not h, and a
    /// sample outside the image is `extrapolation` (0: mid-grey once
    /// normalised), not the nearest pixel.
    package static func cropAndResize(_ src: UnsafePointer<Float>, height h: Int, width w: Int, channels c: Int,
                                      box: (y1: Float, x1: Float, y2: Float, x2: Float), size: Int,
                                      extrapolation: Float = 0, into dst: UnsafeMutablePointer<Float>) {
        cropAndResize(height: h, width: w, channels: c, box: box, size: size, extrapolation: extrapolation, into: dst) { y, x, k in
            src[(y * w + x) * c + k]
        }
    }

    /// `cropAndResize` over any image: `value(y, x, k)` is channel k of pixel
    /// (x, y), asked only for the pixels the crop samples.
    @inline(__always)
    package static func cropAndResize(height h: Int, width w: Int, channels c: Int,
                                      box: (y1: Float, x1: Float, y2: Float, x2: Float), size: Int, extrapolation: Float,
                                      into dst: UnsafeMutablePointer<Float>, value: (Int, Int, Int) -> Float) {
        let hm = Float(h - 1), wm = Float(w - 1)
        let hs = size > 1 ? (box.y2 - box.y1) * hm / Float(size - 1) : 0
        let ws = size > 1 ? (box.x2 - box.x1) * wm / Float(size - 1) : 0
        for y in 0..<size {
            let iy = size > 1 ? box.y1 * hm + Float(y) * hs : 0.5 * (box.y1 + box.y2) * hm
            let out = dst + y * size * c
            guard iy >= 0, iy <= hm else {
                out.update(repeating: extrapolation, count: size * c)
                continue
            }
            let top = Int(iy.rounded(.down)), bottom = Int(iy.rounded(.up))
            let yl = iy - Float(top)
            for x in 0..<size {
                let ix = size > 1 ? box.x1 * wm + Float(x) * ws : 0.5 * (box.x1 + box.x2) * wm
                let o = out + x * c
                guard ix >= 0, ix <= wm else {
                    for k in 0..<c { o[k] = extrapolation }
                    continue
                }
                let left = Int(ix.rounded(.down)), right = Int(ix.rounded(.up))
                let xl = ix - Float(left)
                for k in 0..<c {
                    let tl = value(top, left, k), tr = value(top, right, k)
                    let bl = value(bottom, left, k), br = value(bottom, right, k)
                    let t = tl + (tr - tl) * xl
                    let b = bl + (br - bl) * xl
                    o[k] = t + (b - t) * yl
                }
            }
        }
    }
}
