/// Pooling, vectorised over channels (NHWC keeps a pixel's channels
/// contiguous), one output row per task. Padding is ignored: max-pool padding
/// acts as −∞ (TensorFlow SAME, MatConvNet); average pooling divides by the
/// window's positions inside the input.
enum PoolKernel {
    typealias F8 = SIMD8<Float>

    static func row(_ s: Step, oy: Int, isMax: Bool, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        // Two copies of the loop, so neither tests `isMax` per element.
        if isMax { rowImpl(s, oy: oy, isMax: true, input: x, output: y) } else { rowImpl(s, oy: oy, isMax: false, input: x, output: y) }
    }

    /// (stdlib's pointwiseMax is scalarised lane by lane; compare + blend is
    /// one vcmpps + vblendvps.)
    @inline(__always)
    static func rowImpl(_ s: Step, oy: Int, isMax: Bool, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let (H, W, C) = s.inShape
        let OW = s.outShape.w
        let iy0 = oy * s.strideH - s.padTop
        let y0 = max(0, iy0), y1 = min(H, iy0 + s.kernelH)
        for ox in 0..<OW {
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
