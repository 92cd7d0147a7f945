/// Reference-quality kernels: exact loops, SIMD8 along output channels, no
/// allocation, no lookups. Every bound they rely on was checked by PlanBuilder.
/// (The fast kernels of the speed work are tested against these.)
package enum Kernels {
    typealias F8 = SIMD8<Float>

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> F8 {
        UnsafeRawPointer(p).loadUnaligned(as: F8.self)
    }

    /// Stores the first `count` (1...8) lanes.
    @inline(__always)
    static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count >= 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
        } else {
            for k in 0..<count { p[k] = v[k] }
        }
    }

    /// Direct convolution (cross-correlation), zero padding, NHWC.
    /// weights [KH][KW][Cin][CoutPad8], bias [CoutPad8].
    static func conv2d(_ s: Step, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let (H, W, C) = s.inShape
        let (OH, OW, CO) = s.outShape
        let P = s.paddedOut
        let w = s.weights!, b = s.bias!
        let zero = F8(repeating: 0)
        for oy in 0..<OH {
            let iy0 = oy * s.strideH - s.padTop
            let ky0 = max(0, -iy0), ky1 = min(s.kernelH, H - iy0)
            for ox in 0..<OW {
                let ix0 = ox * s.strideW - s.padLeft
                let kx0 = max(0, -ix0), kx1 = min(s.kernelW, W - ix0)
                let out = y + (oy * OW + ox) * CO
                var cb = 0
                while cb < CO {
                    // Two accumulators when 16 channels remain: independent FMA chains.
                    let pair = cb + 8 < CO
                    var a0 = load8(b + cb)
                    var a1 = pair ? load8(b + cb + 8) : zero
                    if ky0 < ky1 && kx0 < kx1 {
                        for ky in ky0..<ky1 {
                            for kx in kx0..<kx1 {
                                let xp = x + ((iy0 + ky) * W + (ix0 + kx)) * C
                                var wp = w + ((ky * s.kernelW + kx) * C) * P + cb
                                if pair {
                                    for ci in 0..<C {
                                        let v = F8(repeating: xp[ci])
                                        a0 = a0.addingProduct(v, load8(wp))
                                        a1 = a1.addingProduct(v, load8(wp + 8))
                                        wp += P
                                    }
                                } else {
                                    for ci in 0..<C {
                                        a0 = a0.addingProduct(F8(repeating: xp[ci]), load8(wp))
                                        wp += P
                                    }
                                }
                            }
                        }
                    }
                    if s.relu { a0 = a0.replacing(with: zero, where: a0 .< zero); a1 = a1.replacing(with: zero, where: a1 .< zero) }
                    store(a0, out + cb, count: CO - cb)
                    if pair { store(a1, out + cb + 8, count: CO - cb - 8) }
                    cb += pair ? 16 : 8
                }
            }
        }
    }

    /// y = x · W + b, W [In][OutPad8]; streams W row by row (sequential reads
    /// of the largest tensor), accumulating in `scratch` (OutPad8 floats).
    static func dense(_ s: Step, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>) {
        let n = s.inShape.c, P = s.paddedOut, out = s.outShape.c
        let w = s.weights!
        scratch.update(from: s.bias!, count: P)
        for i in 0..<n {
            let xi = x[i]
            if xi == 0 { continue }   // post-ReLU inputs are often zero
            let v = F8(repeating: xi)
            let row = w + i * P
            var o = 0
            while o < P {
                let acc = UnsafeMutableRawPointer(scratch + o)
                acc.storeBytes(of: acc.load(as: F8.self).addingProduct(v, load8(row + o)), as: F8.self)
                o += 8
            }
        }
        for o in 0..<out { y[o] = s.relu ? max(scratch[o], 0) : scratch[o] }
    }

    /// Max pooling; padded positions are ignored (act as -inf), as in
    /// TensorFlow SAME pooling and MatConvNet.
    static func maxPool(_ s: Step, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        pool(s, x, y, isMax: true)
    }

    /// Average pooling over the window's positions inside the input.
    static func avgPool(_ s: Step, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        pool(s, x, y, isMax: false)
    }

    @inline(__always)
    private static func pool(_ s: Step, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, isMax: Bool) {
        let (H, W, C) = s.inShape
        let (OH, OW, _) = s.outShape
        for oy in 0..<OH {
            let iy0 = oy * s.strideH - s.padTop
            let y0 = max(0, iy0), y1 = min(H, iy0 + s.kernelH)
            for ox in 0..<OW {
                let ix0 = ox * s.strideW - s.padLeft
                let x0 = max(0, ix0), x1 = min(W, ix0 + s.kernelW)
                let out = y + (oy * OW + ox) * C
                let count = Float(max(1, (y1 - y0) * (x1 - x0)))
                for c in 0..<C {
                    var acc: Float = isMax ? -.infinity : 0
                    for iy in y0..<y1 {
                        for ix in x0..<x1 {
                            let v = x[(iy * W + ix) * C + c]
                            acc = isMax ? max(acc, v) : acc + v
                        }
                    }
                    out[c] = isMax ? acc : acc / count
                }
            }
        }
    }

    package static func zeroPad(_ s: Step, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let (H, W, C) = s.inShape
        let (_, OW, _) = s.outShape
        y.initialize(repeating: 0, count: s.count)
        for iy in 0..<H {
            (y + ((iy + s.padTop) * OW + s.padLeft) * C).update(from: x + iy * W * C, count: W * C)
        }
    }

    package static func add(_ s: Step, inputs: [UnsafePointer<Float>], output y: UnsafeMutablePointer<Float>) {
        add(s, inputs: inputs, output: y, part: 0, of: 1)
    }

    /// Part `part` of `parts` (elements, or output rows when zero-extending),
    /// so threads can share a large add.
    package static func add(_ s: Step, inputs: [UnsafePointer<Float>], output y: UnsafeMutablePointer<Float>, part: Int, of parts: Int) {
        if !s.addShapes.isEmpty {
            let rows = s.outShape.h
            return zeroExtendedAdd(s, inputs: inputs, output: y, rows: (rows * part / parts)..<(rows * (part + 1) / parts))
        }
        for i in (s.count * part / parts)..<(s.count * (part + 1) / parts) {
            var acc = inputs[0][i]
            for k in 1..<inputs.count { acc += inputs[k][i] }
            y[i] = s.relu ? max(acc, 0) : acc
        }
    }

    /// dlib's add_prev of tensors of different shapes: each input counts as
    /// zero outside its own rows, columns and channels (top-left aligned,
    /// first channels), as cpu_dlib.cpp's `add(dest, src1, src2)`.
    static func zeroExtendedAdd(_ s: Step, inputs: [UnsafePointer<Float>], output y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let (_, OW, OC) = s.outShape
        for oy in rows {
            for ox in 0..<OW {
                let out = y + (oy * OW + ox) * OC
                out.update(repeating: 0, count: OC)
                for (x, shape) in zip(inputs, s.addShapes) where oy < shape.h && ox < shape.w {
                    let p = x + (oy * shape.w + ox) * shape.c
                    for c in 0..<shape.c { out[c] += p[c] }
                }
                if s.relu { for c in 0..<OC { out[c] = max(out[c], 0) } }
            }
        }
    }

    package static func relu(_ s: Step, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        for i in 0..<s.count { y[i] = max(x[i], 0) }
    }

    /// Softmax over the last axis, max-subtracted for stability.
    package static func softmax(_ s: Step, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let rows = s.outShape.w, n = s.outShape.c
        for r in 0..<rows {
            let xr = x + r * n, yr = y + r * n
            var m = -Float.infinity
            for i in 0..<n { m = max(m, xr[i]) }
            var sum: Float = 0
            for i in 0..<n { let e = expf(xr[i] - m); yr[i] = e; sum += e }
            let inv = 1 / sum
            for i in 0..<n { yr[i] *= inv }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
