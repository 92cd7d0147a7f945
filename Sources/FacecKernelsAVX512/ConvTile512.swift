import CCPUFeatures

/// Register-blocked micro-kernels for CPUs with AVX-512 (x86-64-v4). This
/// module alone is compiled with `-march=x86-64-v4`, so `SIMD16<Float>` is one
/// zmm register and each FMA does 16 lanes; the runtime calls it only after
/// the CPUID check (`KernelISA`), and everything else stays x86-64-v3.
///
/// One tile is the implicit GEMM of the direct convolution (and, with a 1×1
/// kernel, of a plain matrix product): up to 8 output pixels × up to 32 output
/// channels = 16 zmm accumulators, enough independent FMA chains to keep both
/// FMA pipes busy. Pixel j reads input at `x + j·sx·C` over the KH×KW window
/// of a padded row of PW pixels; weights are [KH][KW][C][P] (P a multiple of 8).
/// Fewer than 8 pixels repeat the last pixel's reads instead of running a
/// slower narrow tile: wasted lanes, but the same throughput per call.
public enum ConvTile512 {
    public typealias F16 = SIMD16<Float>
    public typealias F8 = SIMD8<Float>

    /// Output pixels per tile.
    public static let pixels = 8

    /// How far ahead (in weight rows) the 32-channel tile prefetches: 4 KB
    /// for a 32-wide panel. Measured on Zen 5 (K = 512, 16 rows, weights
    /// from DRAM): 126 GFLOP/s without, 155–195 with 24–96 rows.
    static let prefetchRows = 32

    /// `n` (1...8) pixels × `span` (8, 16, 24 or 32) channels starting at
    /// `w`, `bias` and `out` (already offset to the tile's first channel);
    /// stores the first `valid` channels of each of the n pixels, row stride
    /// CO. float32 weights.
    @inline(never)
    public static func tile(_ x: UnsafePointer<Float>, n: Int, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                            w: UnsafePointer<Float>, P: Int, span: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                            relu: Bool, out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        dispatch(x, n, C, PW, KH, KW, sx, w, P, span, bias, scales, relu, out, CO, valid)
    }

    /// The same with half weights, widened as loaded (`vcvtph2ps`).
    @inline(never)
    public static func tile(_ x: UnsafePointer<Float>, n: Int, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                            w: UnsafePointer<Float16>, P: Int, span: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                            relu: Bool, out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        dispatch(x, n, C, PW, KH, KW, sx, w, P, span, bias, scales, relu, out, CO, valid)
    }

    /// The same with int8 weights (`vpmovsxbd` + `vcvtdq2ps`); `scales` is
    /// then required: the sums start at zero and end as sum × scale + bias.
    @inline(never)
    public static func tile(_ x: UnsafePointer<Float>, n: Int, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                            w: UnsafePointer<Int8>, P: Int, span: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                            relu: Bool, out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        dispatch(x, n, C, PW, KH, KW, sx, w, P, span, bias, scales, relu, out, CO, valid)
    }

    @inline(__always)
    static func dispatch<W: Wide>(_ x: UnsafePointer<Float>, _ n: Int, _ C: Int, _ PW: Int, _ KH: Int, _ KW: Int, _ sx: Int,
                                  _ w: UnsafePointer<W>, _ P: Int, _ span: Int, _ bias: UnsafePointer<Float>,
                                  _ scales: UnsafePointer<Float>?, _ relu: Bool,
                                  _ out: UnsafeMutablePointer<Float>, _ CO: Int, _ valid: Int) {
        switch span {
        case 32...: body2(x, n, C, PW, KH, KW, sx, w, P, 32, bias, scales, relu, out, CO, valid)
        case 24: body2(x, n, C, PW, KH, KW, sx, w, P, 24, bias, scales, relu, out, CO, valid)
        case 16: body1(x, n, C, PW, KH, KW, sx, w, P, 16, bias, scales, relu, out, CO, valid)
        default: body1(x, n, C, PW, KH, KW, sx, w, P, 8, bias, scales, relu, out, CO, valid)
        }
    }

    /// Where a tile's sums start: the bias, or zero when int8 scales follow.
    @inline(__always)
    static func start(_ bias: UnsafePointer<Float>, _ lanes: Int, _ scales: UnsafePointer<Float>?) -> F16 {
        scales == nil ? load(bias, lanes) : F16(repeating: 0)
    }

    /// int8: sum × scale + bias; float weights: as is.
    @inline(__always)
    static func scaled(_ v: F16, _ bias: UnsafePointer<Float>, _ lanes: Int, _ scales: UnsafePointer<Float>?) -> F16 {
        guard let scales else { return v }
        return load(bias, lanes).addingProduct(v, load(scales, lanes))
    }

    /// 16 lanes from `p`, of which the first `lanes` (8 or 16) are read; the
    /// rest are zero. `lanes` is a constant after inlining.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ lanes: Int) -> F16 {
        if lanes >= 16 { return UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
        return F16(lowHalf: UnsafeRawPointer(p).loadUnaligned(as: F8.self), highHalf: F8())
    }

    @inline(__always)
    static func finish(_ v: F16, relu: Bool, to p: UnsafeMutablePointer<Float>, valid: Int) {
        let r = relu ? v.replacing(with: 0, where: v .< 0) : v
        if valid >= 16 {
            UnsafeMutableRawPointer(p).storeBytes(of: r, as: F16.self)
        } else if valid > 0 {
            for k in 0..<valid { p[k] = r[k] }
        }
    }

    /// Input offsets of pixels 1...7 of a tile; pixels past n repeat the last.
    @inline(__always)
    static func pixelOffsets(_ n: Int, step: Int) -> (Int, Int, Int, Int, Int, Int, Int) {
        let last = n - 1
        return (min(1, last) * step, min(2, last) * step, min(3, last) * step, min(4, last) * step,
                min(5, last) * step, min(6, last) * step, min(7, last) * step)
    }

    /// 32 (or 24) channels: two accumulators per pixel.
    @inline(__always)
    static func body2<W: Wide>(_ x: UnsafePointer<Float>, _ n: Int, _ C: Int, _ PW: Int, _ KH: Int, _ KW: Int, _ sx: Int,
                      _ w: UnsafePointer<W>, _ P: Int, _ lanes: Int, _ bias: UnsafePointer<Float>, _ scales: UnsafePointer<Float>?,
                      _ relu: Bool, _ out: UnsafeMutablePointer<Float>, _ CO: Int, _ valid: Int) {
        let hi = lanes - 16
        let b0 = start(bias, 16, scales), b1 = start(bias + 16, hi, scales)
        var a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1
        var a40 = b0, a41 = b1, a50 = b0, a51 = b1, a60 = b0, a61 = b1, a70 = b0, a71 = b1
        let (o1, o2, o3, o4, o5, o6, o7) = pixelOffsets(n, step: sx * C)
        // A window row's KW pixels × C channels are contiguous in the input
        // (NHWC) and in the weights ([KH][KW][C][P]): one loop of KW·C.
        let run = KW * C
        for ky in 0..<KH {
            let xp = x + ky * PW * C
            var wp = w + ky * run * P
            for ci in 0..<run {
                let w0 = W.load16(wp, 16), w1 = W.load16(wp + 16, hi)
                let x0 = F16(repeating: xp[ci]), x1 = F16(repeating: xp[ci + o1])
                a00 = a00.addingProduct(x0, w0); a01 = a01.addingProduct(x0, w1)
                a10 = a10.addingProduct(x1, w0); a11 = a11.addingProduct(x1, w1)
                let x2 = F16(repeating: xp[ci + o2]), x3 = F16(repeating: xp[ci + o3])
                a20 = a20.addingProduct(x2, w0); a21 = a21.addingProduct(x2, w1)
                a30 = a30.addingProduct(x3, w0); a31 = a31.addingProduct(x3, w1)
                let x4 = F16(repeating: xp[ci + o4]), x5 = F16(repeating: xp[ci + o5])
                a40 = a40.addingProduct(x4, w0); a41 = a41.addingProduct(x4, w1)
                a50 = a50.addingProduct(x5, w0); a51 = a51.addingProduct(x5, w1)
                let x6 = F16(repeating: xp[ci + o6]), x7 = F16(repeating: xp[ci + o7])
                a60 = a60.addingProduct(x6, w0); a61 = a61.addingProduct(x6, w1)
                a70 = a70.addingProduct(x7, w0); a71 = a71.addingProduct(x7, w1)
                // Weights stream from memory in deep layers: ask for them
                // `prefetchRows` rows ahead (past the panel too: the next
                // task's panel follows it).
                W.prefetch(wp + prefetchRows * P); W.prefetch(wp + prefetchRows * P + 16)
                wp += P
            }
        }
        if scales != nil {
            let sb0 = bias + 16, ss = scales.map { $0 + 16 }
            a00 = scaled(a00, bias, 16, scales); a01 = scaled(a01, sb0, hi, ss); a10 = scaled(a10, bias, 16, scales); a11 = scaled(a11, sb0, hi, ss)
            a20 = scaled(a20, bias, 16, scales); a21 = scaled(a21, sb0, hi, ss); a30 = scaled(a30, bias, 16, scales); a31 = scaled(a31, sb0, hi, ss)
            a40 = scaled(a40, bias, 16, scales); a41 = scaled(a41, sb0, hi, ss); a50 = scaled(a50, bias, 16, scales); a51 = scaled(a51, sb0, hi, ss)
            a60 = scaled(a60, bias, 16, scales); a61 = scaled(a61, sb0, hi, ss); a70 = scaled(a70, bias, 16, scales); a71 = scaled(a71, sb0, hi, ss)
        }
        // A partial second vector is stored whole when the tile holds every
        // channel (valid == CO) and another pixel of the tile follows: its
        // extra lanes land on that pixel's first channels, which its first
        // vector, stored next, overwrites (DeepID Conv1, 20 channels: one
        // vector store instead of 4 lane extracts per pixel). The tile's
        // last pixel never overruns: the next may belong to another thread.
        let v0 = min(16, valid), v1 = valid - 16
        let w1 = valid == CO ? 16 : v1
        finish(a00, relu: relu, to: out, valid: v0); finish(a01, relu: relu, to: out + 16, valid: n > 1 ? w1 : v1)
        if n > 1 { finish(a10, relu: relu, to: out + CO, valid: v0); finish(a11, relu: relu, to: out + CO + 16, valid: n > 2 ? w1 : v1) }
        if n > 2 { finish(a20, relu: relu, to: out + 2 * CO, valid: v0); finish(a21, relu: relu, to: out + 2 * CO + 16, valid: n > 3 ? w1 : v1) }
        if n > 3 { finish(a30, relu: relu, to: out + 3 * CO, valid: v0); finish(a31, relu: relu, to: out + 3 * CO + 16, valid: n > 4 ? w1 : v1) }
        if n > 4 { finish(a40, relu: relu, to: out + 4 * CO, valid: v0); finish(a41, relu: relu, to: out + 4 * CO + 16, valid: n > 5 ? w1 : v1) }
        if n > 5 { finish(a50, relu: relu, to: out + 5 * CO, valid: v0); finish(a51, relu: relu, to: out + 5 * CO + 16, valid: n > 6 ? w1 : v1) }
        if n > 6 { finish(a60, relu: relu, to: out + 6 * CO, valid: v0); finish(a61, relu: relu, to: out + 6 * CO + 16, valid: n > 7 ? w1 : v1) }
        if n > 7 { finish(a70, relu: relu, to: out + 7 * CO, valid: v0); finish(a71, relu: relu, to: out + 7 * CO + 16, valid: v1) }
    }

    /// 16 (or 8) channels: one accumulator per pixel.
    @inline(__always)
    static func body1<W: Wide>(_ x: UnsafePointer<Float>, _ n: Int, _ C: Int, _ PW: Int, _ KH: Int, _ KW: Int, _ sx: Int,
                      _ w: UnsafePointer<W>, _ P: Int, _ lanes: Int, _ bias: UnsafePointer<Float>, _ scales: UnsafePointer<Float>?,
                      _ relu: Bool, _ out: UnsafeMutablePointer<Float>, _ CO: Int, _ valid: Int) {
        let b0 = start(bias, lanes, scales)
        var a0 = b0, a1 = b0, a2 = b0, a3 = b0, a4 = b0, a5 = b0, a6 = b0, a7 = b0
        let (o1, o2, o3, o4, o5, o6, o7) = pixelOffsets(n, step: sx * C)
        // A window row's KW pixels × C channels are contiguous in the input
        // (NHWC) and in the weights ([KH][KW][C][P]): one loop of KW·C.
        let run = KW * C
        for ky in 0..<KH {
            let xp = x + ky * PW * C
            var wp = w + ky * run * P
            for ci in 0..<run {
                let w0 = W.load16(wp, lanes)
                a0 = a0.addingProduct(F16(repeating: xp[ci]), w0)
                a1 = a1.addingProduct(F16(repeating: xp[ci + o1]), w0)
                a2 = a2.addingProduct(F16(repeating: xp[ci + o2]), w0)
                a3 = a3.addingProduct(F16(repeating: xp[ci + o3]), w0)
                a4 = a4.addingProduct(F16(repeating: xp[ci + o4]), w0)
                a5 = a5.addingProduct(F16(repeating: xp[ci + o5]), w0)
                a6 = a6.addingProduct(F16(repeating: xp[ci + o6]), w0)
                a7 = a7.addingProduct(F16(repeating: xp[ci + o7]), w0)
                wp += P
            }
        }
        if scales != nil {
            a0 = scaled(a0, bias, lanes, scales); a1 = scaled(a1, bias, lanes, scales); a2 = scaled(a2, bias, lanes, scales)
            a3 = scaled(a3, bias, lanes, scales); a4 = scaled(a4, bias, lanes, scales); a5 = scaled(a5, bias, lanes, scales)
            a6 = scaled(a6, bias, lanes, scales); a7 = scaled(a7, bias, lanes, scales)
        }
        let v = min(16, valid)
        finish(a0, relu: relu, to: out, valid: v)
        if n > 1 { finish(a1, relu: relu, to: out + CO, valid: v) }
        if n > 2 { finish(a2, relu: relu, to: out + 2 * CO, valid: v) }
        if n > 3 { finish(a3, relu: relu, to: out + 3 * CO, valid: v) }
        if n > 4 { finish(a4, relu: relu, to: out + 4 * CO, valid: v) }
        if n > 5 { finish(a5, relu: relu, to: out + 5 * CO, valid: v) }
        if n > 6 { finish(a6, relu: relu, to: out + 6 * CO, valid: v) }
        if n > 7 { finish(a7, relu: relu, to: out + 7 * CO, valid: v) }
    }
}
