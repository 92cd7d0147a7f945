import FacecFormat

/// Convolutions on small maps (`TensorLayout.blockedMap`: dlib's ResNet from
/// 17×17 down to 3×3), whose rows are few or shorter than a register tile:
/// `ConvKernel.row` would run narrow ones one pixel at a time, reloading
/// every weight per pixel, and stride through the weights. Instead each
/// output pixel's receptive field is copied out (im2col: KH·KW·C floats, in
/// the order of the weights' rows) and the whole map runs as a 1×1
/// convolution over those patches, in rows of exactly 6 pixels (the last
/// completed with zero patches, its output through a small tail buffer), so
/// every tile is full. The six pixels of a row are interleaved (`[k][6]`), so
/// a tile's broadcasts stream from one place instead of six rows KH·KW·C
/// floats apart, and each 16-channel block runs through every row before the
/// next (its weights then come from L2 after the first row). The compiler
/// stores these layers' weights in 16-channel blocks (`hwio_cout_block16`);
/// files without it run the same loops on `[KH][KW][Cin][CoutPad8]`.
/// dlib's 4×4 layers: 0.70 ms row by row, 0.39 ms here (Zen 2, one thread).
/// Same products, same order per output.
///
/// A convolution with a single output pixel (dlib's 4×4 → 1×1 3×3/2) is a
/// dense layer over its one patch: the weights `[KH][KW][Cin][CoutPad8]` are
/// exactly dense weights `[KH·KW·Cin][CoutPad8]`, streamed row by row.
package enum PatchConv {
    package static func applies(_ s: Step) -> Bool {
        s.kernel == .conv2dDirect && (s.blockedWeights || (s.outShape.w < 6 && s.outShape.h > 1))
    }

    package static func isSinglePixel(_ s: Step) -> Bool {
        s.kernel == .conv2dDirect && s.outShape.h == 1 && s.outShape.w == 1 && s.kernelH * s.kernelW > 1
    }

    /// The dense layer over a single-pixel convolution's patch.
    package static func denseStep(_ s: Step) -> Step {
        var p = s
        p.kernel = .dense
        p.inShape = (1, 1, s.kernelH * s.kernelW * s.inShape.c)
        return p
    }

    static let rowPixels = 6

    static func rows(_ s: Step) -> Int { (s.outShape.h * s.outShape.w + rowPixels - 1) / rowPixels }

    /// Scratch floats: the patches, then a partial last row's output per
    /// thread (`tails` of them).
    package static func floats(_ s: Step, tails: Int = 1) -> Int {
        rows(s) * rowPixels * s.kernelH * s.kernelW * s.inShape.c + tails * rowPixels * s.outShape.c
    }

    /// The 1×1 convolution over the patches, rows of 6 pixels (rows are the
    /// tasks threads share).
    package static func patchStep(_ s: Step) -> Step {
        var p = s
        p.inShape = (rows(s), rowPixels, s.kernelH * s.kernelW * s.inShape.c)
        p.outShape = (rows(s), rowPixels, s.outShape.c)
        p.kernelH = 1; p.kernelW = 1; p.strideH = 1; p.strideW = 1
        p.padTop = 0; p.padBottom = 0; p.padLeft = 0; p.padRight = 0
        return p
    }

    /// Copies the receptive field of output pixel `pixel` out of the (padded)
    /// input, one window row (KW pixels × C, contiguous) at a time, `stride`
    /// floats apart in the destination (1: one patch after another, the
    /// single-pixel dense case; 6: interleaved rows).
    package static func gather(_ s: Step, pixel: Int, padded p: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, stride: Int) {
        let C = s.inShape.c, PW = s.inShape.w + s.padLeft + s.padRight
        let oy = pixel / s.outShape.w, ox = pixel % s.outShape.w, run = s.kernelW * C
        for ky in 0..<s.kernelH {
            let src = p + ((oy * s.strideH + ky) * PW + ox * s.strideW) * C
            if stride == 1 { (dst + ky * run).update(from: src, count: run); continue }
            let d = dst + ky * run * stride
            for k in 0..<run { d[k * stride] = src[k] }
        }
    }

    /// Patch rows `groups` (six pixels each, `[row][k][6]`); the slots past
    /// the last pixel are zero. Rows are independent: threads share them.
    package static func gather(_ s: Step, groups: Range<Int>, padded p: UnsafePointer<Float>, into q: UnsafeMutablePointer<Float>) {
        let patch = s.kernelH * s.kernelW * s.inShape.c, pixels = s.outShape.h * s.outShape.w
        for g in groups {
            let row = q + g * patch * rowPixels
            for j in 0..<rowPixels {
                let pixel = g * rowPixels + j
                if pixel < pixels {
                    gather(s, pixel: pixel, padded: p, into: row + j, stride: rowPixels)
                } else {
                    for k in 0..<patch { row[k * rowPixels + j] = 0 }
                }
            }
        }
    }

    /// Output channels `[c0, c1)` (multiples of 16) of every row of 6
    /// interleaved patches: each 16-channel block through all rows before the
    /// next, so its weights (KH·KW·C × 16 floats) come from memory once and
    /// from L2 for the other rows. The channel ranges are the threads' tasks.
    /// `out` holds the real pixels (`pixels` of them); the last row's tiles,
    /// when it is partial, go to `tail` (6 × CO floats) and only its real
    /// pixels are copied on.
    package static func channels(_ p: Step, _ c0: Int, _ c1: Int, patches q: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                         pixels: Int, tail: UnsafeMutablePointer<Float>) {
        switch p.storedWeights {
        case .f32(let w): channels(p, c0, c1, q, out, pixels, tail, w, nil)
        case .f16(let w): channels(p, c0, c1, q, out, pixels, tail, w, nil)
        case .i8(let w, let scales): channels(p, c0, c1, q, out, pixels, tail, w, scales)
        }
    }

    /// Tasks of whole 16-channel blocks for `threads` threads.
    package static func channelRanges(_ p: Step, threads: Int) -> [(Int, Int)] {
        let blocks = (p.outShape.c + 15) / 16, tasks = max(1, min(blocks, threads))
        return (0..<tasks).map { t in (blocks * t / tasks * 16, min(p.outShape.c, blocks * (t + 1) / tasks * 16)) }
    }

    private static func channels<W: WeightElement>(_ p: Step, _ c0: Int, _ c1: Int, _ q: UnsafePointer<Float>,
                                                   _ out: UnsafeMutablePointer<Float>, _ pixels: Int, _ tail: UnsafeMutablePointer<Float>,
                                                   _ w: UnsafePointer<W>, _ scales: UnsafePointer<Float>?) {
        typealias F8 = SIMD8<Float>
        let K = p.inShape.c, P = p.paddedOut, CO = p.outShape.c, b = p.bias!
        var cb = c0
        while cb < c1 {
            for r in 0..<p.outShape.h {
                let real = min(rowPixels, pixels - r * rowPixels)
                let x = q + r * K * rowPixels, o = real == rowPixels ? out + r * rowPixels * CO : tail
                let wide = cb + 8 < CO
                let sc = scales.map { $0 + cb }
                let b0 = ConvKernel.start(b + cb, sc), b1 = wide ? ConvKernel.start(b + cb + 8, sc) : F8(repeating: 0)
                var a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1
                var a30 = b0, a31 = b1, a40 = b0, a41 = b1, a50 = b0, a51 = b1
                // Blocked weights: block cb/16 is [K][16]; else rows of P floats.
                let P = p.blockedWeights ? 16 : P
                var wp = p.blockedWeights ? w + (cb / 16) * K * 16 : w + cb, xp = x
                for _ in 0..<K {
                    let w0 = W.load8(wp), w1 = wide ? W.load8(wp + 8) : F8(repeating: 0)
                    let x0 = F8(repeating: xp[0]), x1 = F8(repeating: xp[1]), x2 = F8(repeating: xp[2])
                    a00 = a00.addingProduct(x0, w0); a01 = a01.addingProduct(x0, w1)
                    a10 = a10.addingProduct(x1, w0); a11 = a11.addingProduct(x1, w1)
                    a20 = a20.addingProduct(x2, w0); a21 = a21.addingProduct(x2, w1)
                    let x3 = F8(repeating: xp[3]), x4 = F8(repeating: xp[4]), x5 = F8(repeating: xp[5])
                    a30 = a30.addingProduct(x3, w0); a31 = a31.addingProduct(x3, w1)
                    a40 = a40.addingProduct(x4, w0); a41 = a41.addingProduct(x4, w1)
                    a50 = a50.addingProduct(x5, w0); a51 = a51.addingProduct(x5, w1)
                    wp += P; xp += rowPixels
                }
                let v0 = min(8, CO - cb), v1 = CO - cb - 8
                let bl = b + cb, bh = b + cb + 8, s1 = sc.map { $0 + 8 }
                func store(_ j: Int, _ l: F8, _ h: F8) {
                    ConvKernel.finish(ConvKernel.scaled(l, bl, sc), relu: p.relu, to: o + j * CO + cb, valid: v0)
                    if wide { ConvKernel.finish(ConvKernel.scaled(h, bh, s1), relu: p.relu, to: o + j * CO + cb + 8, valid: v1) }
                }
                store(0, a00, a01); store(1, a10, a11); store(2, a20, a21)
                store(3, a30, a31); store(4, a40, a41); store(5, a50, a51)
                if real < rowPixels {
                    let n = min(16, CO - cb)
                    for k in 0..<real { (out + (r * rowPixels + k) * CO + cb).update(from: tail + k * CO + cb, count: n) }
                }
            }
            cb += 16
        }
    }
}
