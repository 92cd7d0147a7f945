/// Pooling, vectorised over channels (NHWC keeps a pixel's channels
/// contiguous), one output row per task. Padding is ignored: max-pool padding
/// acts as −∞ (TensorFlow SAME, MatConvNet); average pooling divides by the
/// window's positions inside the input.
package enum PoolKernel {
    typealias F8 = SIMD8<Float>

    package static func row(_ s: Step, oy: Int, isMax: Bool, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        if isMax && s.kernelH == 2 && s.kernelW == 2 && s.inShape.c >= 8 && s.inShape.c % 4 == 0 {
            maxRow2x2(s, oy: oy, input: x, output: y)
            return
        }
        // Two copies of the loop, so neither tests `isMax` per element.
        if isMax { rowImpl(s, oy: oy, isMax: true, input: x, output: y) } else { rowImpl(s, oy: oy, isMax: false, input: x, output: y) }
    }

    /// The common case (DeepID's and VGG-Face's pools): a 2×2 max window.
    /// Windows wholly inside the input take four loads per vector with no
    /// window loops (the general loop spends most of its time on loop
    /// control at this size); windows cut by padding or the edge go the
    /// general way.
    static func maxRow2x2(_ s: Step, oy: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let (H, W, C) = s.inShape
        let OW = s.outShape.w
        let iy0 = oy * s.strideH - s.padTop
        guard iy0 >= 0, iy0 + 2 <= H else { rowImpl(s, oy: oy, isMax: true, input: x, output: y); return }
        let rowStride = W * C
        for ox in 0..<OW {
            let ix0 = ox * s.strideW - s.padLeft
            let out = y + (oy * OW + ox) * C
            guard ix0 >= 0, ix0 + 2 <= W else { pixel(s, oy: oy, ox: ox, isMax: true, input: x, output: y); continue }
            let p = x + (iy0 * W + ix0) * C
            var c = 0
            while c < C {
                // C % 8 == 4 (DeepID's 20, 40, 60): the last vector overlaps the one
                // before it and rewrites 4 channels with the same values.
                let k = min(c, C - 8)
                let a = F8.load(p + k), b = F8.load(p + C + k), d = F8.load(p + rowStride + k), e = F8.load(p + rowStride + C + k)
                UnsafeMutableRawPointer(out + k).storeBytes(of: F8.maximum(a, b, d, e), as: F8.self)
                c += 8
            }
        }
    }

    /// One output pixel by the general loop.
    static func pixel(_ s: Step, oy: Int, ox: Int, isMax: Bool, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        rowImpl(s, oy: oy, isMax: isMax, input: x, output: y, columns: ox..<(ox + 1))
    }

    /// (stdlib's pointwiseMax is scalarised lane by lane; compare + blend is
    /// one vcmpps + vblendvps.)
    @inline(__always)
    static func rowImpl(_ s: Step, oy: Int, isMax: Bool, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
                        columns: Range<Int>? = nil) {
        let (H, W, C) = s.inShape
        let OW = s.outShape.w
        let iy0 = oy * s.strideH - s.padTop
        let y0 = max(0, iy0), y1 = min(H, iy0 + s.kernelH)
        for ox in columns ?? 0..<OW {
            let ix0 = ox * s.strideW - s.padLeft
            let x0 = max(0, ix0), x1 = min(W, ix0 + s.kernelW)
            let out = y + (oy * OW + ox) * C
            let inv = 1 / Float(max(1, (y1 - y0) * (x1 - x0)))
            var c = 0
            while c + 8 <= C {
                var acc = F8(repeating: isMax ? -.infinity : 0)
                for iy in y0..<y1 {
                    for ix in x0..<x1 {
                        let v = UnsafeRawPointer(x + (iy * W + ix) * C + c).loadUnaligned(as: F8.self)
                        acc = isMax ? acc.replacing(with: v, where: v .> acc) : acc + v
                    }
                }
                if !isMax { acc *= F8(repeating: inv) }
                UnsafeMutableRawPointer(out + c).storeBytes(of: acc, as: F8.self)
                c += 8
            }
            if c + 4 <= C {   // DeepID's 20, 40, 60 channels end in 4
                var acc = SIMD4<Float>(repeating: isMax ? -.infinity : 0)
                for iy in y0..<y1 {
                    for ix in x0..<x1 {
                        let v = UnsafeRawPointer(x + (iy * W + ix) * C + c).loadUnaligned(as: SIMD4<Float>.self)
                        acc = isMax ? acc.replacing(with: v, where: v .> acc) : acc + v
                    }
                }
                if !isMax { acc *= SIMD4<Float>(repeating: inv) }
                UnsafeMutableRawPointer(out + c).storeBytes(of: acc, as: SIMD4<Float>.self)
                c += 4
            }
            while c < C {
                var acc: Float = isMax ? -.infinity : 0
                for iy in y0..<y1 {
                    for ix in x0..<x1 {
                        let v = x[(iy * W + ix) * C + c]
                        acc = isMax ? max(acc, v) : acc + v
                    }
                }
                out[c] = isMax ? acc : acc * inv
                c += 1
            }
        }
    }
}

// SIMD8 only: a generic `extension SIMD` is not specialised here and runs 20× slower.
extension SIMD8 where Scalar == Float {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Self { UnsafeRawPointer(p).loadUnaligned(as: Self.self) }

    /// The max of four windows' values as the general loop takes it: from
    /// −∞, each value replacing the running max where it is greater (one
    /// compare + blend each), so a NaN never wins, exactly as there.
    @inline(__always)
    static func maximum(_ a: Self, _ b: Self, _ c: Self, _ d: Self) -> Self {
        var m = Self(repeating: -.infinity)
        m = m.replacing(with: a, where: a .> m)
        m = m.replacing(with: b, where: b .> m)
        m = m.replacing(with: c, where: c .> m)
        return m.replacing(with: d, where: d .> m)
    }
}
