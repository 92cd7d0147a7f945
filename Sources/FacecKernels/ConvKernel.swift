import FacecKernelsAVX512

/// The fast direct convolution: implicit GEMM over a zero-padded copy of the
/// input (so the inner loops have no bounds checks), register-blocked as
/// 6 output pixels × 16 output channels = 12 SIMD8 accumulators, the shape
/// that keeps both FMA ports busy. Weights are [KH][KW][Cin][CoutPad8] as the
/// compiler laid them out. Rows of the output are independent tasks.
package enum ConvKernel {
    typealias F8 = SIMD8<Float>

    /// Copies input [H][W][C] into padded [H+pt+pb+extraBottom][W+pl+pr+extraRight][C]
    /// (zeros around; the extra rows/columns let Winograd tiles overhang).
    package static func pad(_ s: Step, input x: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>,
                    extraBottom: Int = 0, extraRight: Int = 0) {
        pad(s, input: x, into: p, extraBottom: extraBottom, extraRight: extraRight, part: 0, of: 1)
    }

    /// Part `part` of `parts` of the copy (input rows split evenly; part 0
    /// also zeroes the top and bottom borders), so threads can share it.
    package static func pad(_ s: Step, input x: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>,
                    extraBottom: Int, extraRight: Int, part: Int, of parts: Int) {
        let (H, W, C) = s.inShape
        let PW = W + s.padLeft + s.padRight + extraRight, PH = H + s.padTop + s.padBottom + extraBottom
        let row = PW * C
        // Zero only the border; the interior is overwritten.
        if part == 0 {
            p.update(repeating: 0, count: s.padTop * row)
            (p + (s.padTop + H) * row).update(repeating: 0, count: (PH - s.padTop - H) * row)
        }
        for y in (H * part / parts)..<(H * (part + 1) / parts) {
            let dst = p + (s.padTop + y) * row
            dst.update(repeating: 0, count: s.padLeft * C)
            (dst + s.padLeft * C).update(from: x + y * W * C, count: W * C)
            (dst + (s.padLeft + W) * C).update(repeating: 0, count: (PW - s.padLeft - W) * C)
        }
    }

    /// One output row `oy` (all ox, all channels) from the padded input;
    /// `wide`: with the AVX-512 tiles (8 pixels × 32 channels). The weights
    /// may be stored as float32, half or int8 (`Step.packed`).
    package static func row(_ s: Step, oy: Int, padded p: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, wide: Bool) {
        switch s.storedWeights {
        case .f32(let w): row(s, oy: oy, padded: p, output: y, wide: wide, weights: w, scales: nil)
        case .f16(let w): row(s, oy: oy, padded: p, output: y, wide: wide, weights: w, scales: nil)
        case .i8(let w, let scales): row(s, oy: oy, padded: p, output: y, wide: wide, weights: w, scales: scales)
        }
    }

    /// `scales`: int8 weights' per-channel scales (the sums start at zero and
    /// become sum × scale + bias); nil for float weights (sums start at the bias).
    private static func row<W: WeightElement>(
        _ s: Step, oy: Int, padded p: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, wide: Bool,
        weights w: UnsafePointer<W>, scales: UnsafePointer<Float>?
    ) {
        let C = s.inShape.c
        let PW = s.inShape.w + s.padLeft + s.padRight
        let (_, OW, CO) = s.outShape
        let P = s.paddedOut
        let b = s.bias!
        let KH = s.kernelH, KW = s.kernelW, sx = s.strideW
        let inRow0 = p + (oy * s.strideH) * PW * C
        let outRow = y + oy * OW * CO
        if wide {
            var ox = 0
            while ox < OW {
                let n = min(ConvTile512.pixels, OW - ox)
                var cb = 0
                while cb < CO {
                    let span = min(32, P - cb)
                    W.tile512(inRow0 + ox * sx * C, n: n, C: C, PW: PW, KH: KH, KW: KW, sx: sx, w: w + cb, P: P, span: span,
                                     bias: b + cb, scales: scales.map { $0 + cb }, relu: s.relu, out: outRow + ox * CO + cb, CO: CO,
                                     valid: min(span, CO - cb))
                    cb += span
                }
                ox += n
            }
            return
        }
        // int8 weights: five-pixel tiles (see tile6x16) when every channel
        // block is 16 wide; a remainder of 8 keeps the six-pixel 6×8 tile.
        let tile = W.self == Int8.self && CO % 16 == 0 ? 5 : 6
        var ox = 0
        while ox < OW {
            let n = min(tile, OW - ox)
            var cb = 0
            while cb < CO {
                let wide = cb + 8 < CO     // 16 channels (second vector has real outputs)
                let sc = scales.map { $0 + cb }
                if n == 6 && !wide {
                    tile6x8(inRow0 + ox * sx * C, C: C, PW: PW, KH: KH, KW: KW, sx: sx, w: w + cb, P: P,
                            bias: b + cb, scales: sc, relu: s.relu, out: outRow + ox * CO + cb, CO: CO, valid: CO - cb)
                } else if n == 6 {
                    tile6x16(inRow0 + ox * sx * C, C: C, PW: PW, KH: KH, KW: KW, sx: sx, w: w + cb, P: P,
                             bias: b + cb, scales: sc, relu: s.relu, out: outRow + ox * CO + cb, CO: CO, valid: CO - cb)
                } else if n == 5 && tile == 5 {
                    tile6x16(inRow0 + ox * sx * C, C: C, PW: PW, KH: KH, KW: KW, sx: sx, w: w + cb, P: P,
                             bias: b + cb, scales: sc, relu: s.relu, out: outRow + ox * CO + cb, CO: CO, valid: CO - cb, sixth: false)
                } else {
                    tileNx8or16(inRow0 + ox * sx * C, n: n, wide: wide, C: C, PW: PW, KH: KH, KW: KW, sx: sx,
                                w: w + cb, P: P, bias: b + cb, scales: sc, relu: s.relu, out: outRow + ox * CO + cb, CO: CO, valid: CO - cb)
                }
                cb += wide ? 16 : 8
            }
            ox += n
        }
    }

    /// Where a tile's sums start: the bias, or zero when int8 scales follow.
    @inline(__always)
    static func start(_ bias: UnsafePointer<Float>, _ scales: UnsafePointer<Float>?) -> F8 {
        scales == nil ? load(bias) : F8(repeating: 0)
    }

    /// int8: sum × scale + bias (one FMA per vector); float weights: as is.
    @inline(__always)
    static func scaled(_ v: F8, _ bias: UnsafePointer<Float>, _ scales: UnsafePointer<Float>?) -> F8 {
        guard let scales else { return v }
        return load(bias).addingProduct(v, load(scales))
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

    @inline(__always)
    static func finish(_ v: F8, relu: Bool, to p: UnsafeMutablePointer<Float>, valid: Int) {
        let r = relu ? v.replacing(with: 0, where: v .< 0) : v
        if valid >= 8 { UnsafeMutableRawPointer(p).storeBytes(of: r, as: F8.self) } else { for k in 0..<valid { p[k] = r[k] } }
    }

    /// 6 pixels × 16 channels, or 5 (`sixth` false): int8 weights need a
    /// register to widen into, and twelve accumulators left LLVM spilling
    /// two of them on every step.
    static func tile6x16<W: WeightElement>(_ x: UnsafePointer<Float>, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                         w: UnsafePointer<W>, P: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?, relu: Bool,
                         out: UnsafeMutablePointer<Float>, CO: Int, valid: Int, sixth: Bool = true) {
        let b0 = start(bias, scales), b1 = start(bias + 8, scales)
        var a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1
        var a30 = b0, a31 = b1, a40 = b0, a41 = b1, a50 = b0, a51 = b1
        let step = sx * C
        let run = KW * C     // a window row: KW pixels × C channels, contiguous in input and weights
        for ky in 0..<KH {
            let xp = x + ky * PW * C
            var wp = w + ky * run * P
            for ci in 0..<run {
                let w0 = W.load8(wp), w1 = W.load8(wp + 8)
                let x0 = F8(repeating: xp[ci]), x1 = F8(repeating: xp[ci + step]), x2 = F8(repeating: xp[ci + 2 * step])
                a00 = a00.addingProduct(x0, w0); a01 = a01.addingProduct(x0, w1)
                a10 = a10.addingProduct(x1, w0); a11 = a11.addingProduct(x1, w1)
                a20 = a20.addingProduct(x2, w0); a21 = a21.addingProduct(x2, w1)
                let x3 = F8(repeating: xp[ci + 3 * step]), x4 = F8(repeating: xp[ci + 4 * step])
                a30 = a30.addingProduct(x3, w0); a31 = a31.addingProduct(x3, w1)
                a40 = a40.addingProduct(x4, w0); a41 = a41.addingProduct(x4, w1)
                if sixth {
                    let x5 = F8(repeating: xp[ci + 5 * step])
                    a50 = a50.addingProduct(x5, w0); a51 = a51.addingProduct(x5, w1)
                }
                wp += P
            }
        }
        if let scales {
            let s0 = load(scales), s1 = load(scales + 8), c0 = load(bias), c1 = load(bias + 8)
            a00 = c0.addingProduct(a00, s0); a01 = c1.addingProduct(a01, s1); a10 = c0.addingProduct(a10, s0); a11 = c1.addingProduct(a11, s1)
            a20 = c0.addingProduct(a20, s0); a21 = c1.addingProduct(a21, s1); a30 = c0.addingProduct(a30, s0); a31 = c1.addingProduct(a31, s1)
            a40 = c0.addingProduct(a40, s0); a41 = c1.addingProduct(a41, s1); a50 = c0.addingProduct(a50, s0); a51 = c1.addingProduct(a51, s1)
        }
        let v2 = valid - 8
        finish(a00, relu: relu, to: out, valid: 8); finish(a01, relu: relu, to: out + 8, valid: v2)
        finish(a10, relu: relu, to: out + CO, valid: 8); finish(a11, relu: relu, to: out + CO + 8, valid: v2)
        finish(a20, relu: relu, to: out + 2 * CO, valid: 8); finish(a21, relu: relu, to: out + 2 * CO + 8, valid: v2)
        finish(a30, relu: relu, to: out + 3 * CO, valid: 8); finish(a31, relu: relu, to: out + 3 * CO + 8, valid: v2)
        finish(a40, relu: relu, to: out + 4 * CO, valid: 8); finish(a41, relu: relu, to: out + 4 * CO + 8, valid: v2)
        if sixth { finish(a50, relu: relu, to: out + 5 * CO, valid: 8); finish(a51, relu: relu, to: out + 5 * CO + 8, valid: v2) }
    }

    /// 6 pixels × 8 channels (the last 8 of a Cout that is not a multiple of 16).
    static func tile6x8<W: WeightElement>(_ x: UnsafePointer<Float>, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                        w: UnsafePointer<W>, P: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?, relu: Bool,
                        out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        let b0 = start(bias, scales)
        var a0 = b0, a1 = b0, a2 = b0, a3 = b0, a4 = b0, a5 = b0
        let step = sx * C
        let run = KW * C     // a window row: KW pixels × C channels, contiguous in input and weights
        for ky in 0..<KH {
            let xp = x + ky * PW * C
            var wp = w + ky * run * P
            for ci in 0..<run {
                let w0 = W.load8(wp)
                a0 = a0.addingProduct(F8(repeating: xp[ci]), w0)
                a1 = a1.addingProduct(F8(repeating: xp[ci + step]), w0)
                a2 = a2.addingProduct(F8(repeating: xp[ci + 2 * step]), w0)
                a3 = a3.addingProduct(F8(repeating: xp[ci + 3 * step]), w0)
                a4 = a4.addingProduct(F8(repeating: xp[ci + 4 * step]), w0)
                a5 = a5.addingProduct(F8(repeating: xp[ci + 5 * step]), w0)
                wp += P
            }
        }
        a0 = scaled(a0, bias, scales); a1 = scaled(a1, bias, scales); a2 = scaled(a2, bias, scales)
        a3 = scaled(a3, bias, scales); a4 = scaled(a4, bias, scales); a5 = scaled(a5, bias, scales)
        let v = min(8, valid)
        finish(a0, relu: relu, to: out, valid: v); finish(a1, relu: relu, to: out + CO, valid: v)
        finish(a2, relu: relu, to: out + 2 * CO, valid: v); finish(a3, relu: relu, to: out + 3 * CO, valid: v)
        finish(a4, relu: relu, to: out + 4 * CO, valid: v); finish(a5, relu: relu, to: out + 5 * CO, valid: v)
    }

    /// Remainders: n (1...6) pixels × 8 or 16 channels, one pixel at a time.
    static func tileNx8or16<W: WeightElement>(_ x: UnsafePointer<Float>, n: Int, wide: Bool, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                            w: UnsafePointer<W>, P: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?, relu: Bool,
                            out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        for j in 0..<n {
            var a0 = start(bias, scales), a1 = wide ? start(bias + 8, scales) : F8(repeating: 0)
            let xj = x + j * sx * C
            let run = KW * C
            for ky in 0..<KH {
                let xp = xj + ky * PW * C
                var wp = w + ky * run * P
                if wide {
                    for ci in 0..<run {
                        let v = F8(repeating: xp[ci])
                        a0 = a0.addingProduct(v, W.load8(wp)); a1 = a1.addingProduct(v, W.load8(wp + 8))
                        wp += P
                    }
                } else {
                    for ci in 0..<run { a0 = a0.addingProduct(F8(repeating: xp[ci]), W.load8(wp)); wp += P }
                }
            }
            a0 = scaled(a0, bias, scales)
            if wide { a1 = scaled(a1, bias + 8, scales.map { $0 + 8 }) }
            finish(a0, relu: relu, to: out + j * CO, valid: min(8, valid))
            if wide { finish(a1, relu: relu, to: out + j * CO + 8, valid: valid - 8) }
        }
    }
}
