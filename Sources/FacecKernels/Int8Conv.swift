import CInt8Kernels

/// A direct convolution's int8 weights, re-laid for the VNNI tiles of
/// CInt8Kernels: built once per loaded model (shared by its instances) from
/// the file's `[KH][KW][Cin][CoutPad8]` int8 weights. `vpdpbusd` sums 4
/// adjacent bytes into each int32 lane, so each output channel's weights are
/// grouped in 4s along a window row (KW × C4 bytes, C4 = Cin rounded up to 4,
/// the zero-filled extra channels matching the input's padding), and the
/// channels are cut into chunks of 32 (the last may be 16) so that a tile
/// streams one contiguous panel: `[chunk][KH][KW·C4/4][≤32][4]`.
package final class Int8ConvWeights: @unchecked Sendable {
    let c4: Int            // input channels rounded up to 4
    let groups: Int        // 4-byte groups per window row: KW × C4 / 4
    package let coutPad: Int       // output channels rounded up to 16
    let panel: UnsafeMutablePointer<Int8>
    /// Σ w per output channel (the zero point's correction), scales and bias,
    /// each padded to `coutPad` so the tiles read whole vectors.
    let colsum: UnsafeMutablePointer<Int32>
    let scales: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    /// Products per output value above which an int32 sum of u8 × s8
    /// products could overflow (255 · 127 · K < 2³¹).
    static let maxProducts = Int(Int32.max) / (255 * 127)

    /// nil when the step is not an int8 direct convolution, or one whose sums
    /// could overflow int32 (it then stays weight-only).
    package init?(_ s: Step) {
        guard s.kernel == .conv2dDirect, case .i8(let w, let sc)? = s.packed, let b = s.bias else { return nil }
        let (KH, KW, C, CO, P) = (s.kernelH, s.kernelW, s.inShape.c, s.outShape.c, s.paddedOut)
        guard KH * KW * ((C + 3) / 4 * 4) <= Self.maxProducts else { return nil }
        c4 = (C + 3) / 4 * 4
        groups = KW * c4 / 4
        coutPad = (CO + 15) / 16 * 16
        let perChannel = KH * KW * c4
        panel = .allocate(capacity: perChannel * coutPad)
        colsum = .allocate(capacity: coutPad)
        scales = .allocate(capacity: coutPad)
        bias = .allocate(capacity: coutPad)
        for co in 0..<coutPad {
            scales[co] = co < CO ? sc[co] : 0
            bias[co] = co < CO ? b[co] : 0
            colsum[co] = 0
        }
        var chunk = 0
        while chunk * 32 < coutPad {
            let c0 = chunk * 32, width = min(32, coutPad - c0)
            let base = panel + c0 * perChannel
            for ky in 0..<KH {
                for g in 0..<groups {
                    for lane in 0..<width {
                        let co = c0 + lane
                        for e in 0..<4 {
                            let k = g * 4 + e, kx = k / c4, ci = k % c4
                            let v: Int8 = (co < CO && ci < C) ? w[((ky * KW + kx) * C + ci) * P + co] : 0
                            base[((ky * groups + g) * width + lane) * 4 + e] = v
                            colsum[co] &+= Int32(v)
                        }
                    }
                }
            }
            chunk += 1
        }
    }

    deinit {
        panel.deallocate(); colsum.deallocate(); scales.deallocate(); bias.deallocate()
    }

    /// Bytes of the padded u8 input copy for step `s`.
    package static func paddedBytes(_ s: Step) -> Int {
        (s.inShape.h + s.padTop + s.padBottom) * (s.inShape.w + s.padLeft + s.padRight) * ((s.inShape.c + 3) / 4 * 4)
    }
}

/// The smallest and largest value of a tensor. A range that
/// holds a tensor's values is all its quantisation needs, so a pooled or
/// zero-padded tensor may keep its source's.
package struct ValueRange: Equatable {
    var lo: Float, hi: Float

    init(lo: Float, hi: Float) { self.lo = lo; self.hi = hi }

    /// The union of `count` (lo, hi) pairs.
    init(reducing pairs: UnsafePointer<Float>, count: Int) {
        lo = pairs[0]; hi = pairs[1]
        for k in 1..<max(1, count) { lo = min(lo, pairs[2 * k]); hi = max(hi, pairs[2 * k + 1]) }
    }
}

/// One input's quantisation: q = round(x / scale) + zeroPoint, clamped to
/// 0...255, with 0.0 exactly representable (it is the zero point).
struct ActivationQuantization: Equatable {
    let scale: Float
    let zeroPoint: Int

    /// From the tensor's range. Post-ReLU inputs (lo = 0) get zero point 0 and
    /// all 256 codes above it; an all-zero tensor gets scale 1.
    init(lo: Float, hi: Float) {
        let lo = min(lo, 0), hi = max(hi, 0)
        guard hi - lo > 0, (hi - lo).isFinite else { scale = 1; zeroPoint = 0; return }
        scale = (hi - lo) / 255
        zeroPoint = min(255, max(0, Int((-lo / scale).rounded(.toNearestOrEven))))
    }
}

/// The VNNI path of an int8 direct convolution: the input is quantised into
/// the padded u8 copy (padding = zero point), then tasks of (pixel block,
/// 32-channel chunk) run 12-pixel tiles whose pixels may span output rows
/// (every row length wastes nothing), writing float32 NHWC with bias and ReLU.
package enum Int8ConvKernel {
    static let tilePixels = Int(FACEC_Q8_TILE_PIXELS)

    /// The whole layer: the input's range (`known`, recorded by the layer
    /// that wrote the input, or measured here, split across the threads when
    /// large), its quantised padded copy in `padded`
    /// (`Int8ConvWeights.paddedBytes`), then the tiles. `ranges`: 2 floats per
    /// task (`tasks`) and per thread of `pool`. Returns the range of the
    /// output (the tiles track it as they store), for the next layer.
    @discardableResult
    package static func run(_ s: Step, _ w: Int8ConvWeights, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
                    known: ValueRange? = nil, padded: UnsafeMutableRawPointer, ranges: UnsafeMutablePointer<Float>,
                    pool: WorkerPool) -> ValueRange {
        let count = s.inShape.h * s.inShape.w * s.inShape.c
        let large = count * 4 >= 1 << 20
        let input: ValueRange
        if let known {
            input = known
        } else {
            let parts = large ? pool.threads : 1
            pool.parallelFor(parts) { part in range(x, count: count, part: part, of: parts, into: ranges) }
            input = ValueRange(reducing: ranges, count: parts)
        }
        let q = ActivationQuantization(lo: input.lo, hi: input.hi)
        let u8 = padded.assumingMemoryBound(to: UInt8.self)
        let paddedRows = s.inShape.h + s.padTop + s.padBottom, c4 = w.c4
        if large {
            pool.parallelFor(paddedRows) { py in quantizeRow(s, q, c4: c4, py: py, input: x, into: u8) }
        } else {
            for py in 0..<paddedRows { quantizeRow(s, q, c4: c4, py: py, input: x, into: u8) }
        }
        let source = UnsafePointer(u8), taskCount = tasks(s, w)
        pool.parallelFor(taskCount) { t in task(s, w, q, task: t, padded: source, output: y, range: ranges + 2 * t) }
        return ValueRange(reducing: ranges, count: taskCount)
    }

    /// Tasks of the layer: pixel blocks × 32-channel chunks.
    package static func tasks(_ s: Step, _ w: Int8ConvWeights) -> Int { blocks(s).count * chunks(w) }

    /// The input range, split into `parts` (each writes lo, hi to range[2k...]).
    static func range(_ x: UnsafePointer<Float>, count: Int, part: Int, of parts: Int, into range: UnsafeMutablePointer<Float>) {
        let a = count * part / parts, b = count * (part + 1) / parts
        guard b > a else { range[2 * part] = 0; range[2 * part + 1] = 0; return }
        facec_q8_range(x + a, b - a, range + 2 * part, range + 2 * part + 1)
    }

    /// Padded row `py` of the u8 copy.
    static func quantizeRow(_ s: Step, _ q: ActivationQuantization, c4: Int, py: Int,
                            input x: UnsafePointer<Float>, into p: UnsafeMutablePointer<UInt8>) {
        let (H, W, C) = s.inShape
        let PW = W + s.padLeft + s.padRight
        let dst = p + py * PW * c4
        let zp = UInt8(q.zeroPoint)
        let y = py - s.padTop
        guard y >= 0, y < H else { dst.update(repeating: zp, count: PW * c4); return }
        dst.update(repeating: zp, count: s.padLeft * c4)
        facec_q8_quantize_row(x + y * W * C, W, C, c4, 1 / q.scale, Int32(q.zeroPoint), dst + s.padLeft * c4)
        (dst + (s.padLeft + W) * c4).update(repeating: zp, count: s.padRight * c4)
    }

    /// How the output pixels are cut into blocks: about 192 pixels each,
    /// whole tiles, the blocks as even as tiles allow.
    static func blocks(_ s: Step) -> (count: Int, tiles: Int) {
        let pixels = s.outShape.h * s.outShape.w
        let tiles = (pixels + tilePixels - 1) / tilePixels
        let count = max(1, (pixels + 191) / 192)
        let perBlock = (tiles + count - 1) / count
        return ((tiles + perBlock - 1) / perBlock, perBlock)
    }

    static func chunks(_ w: Int8ConvWeights) -> Int { (w.coutPad + 31) / 32 }

    /// Task `task` (block-major, then chunk) of the layer.
    static func task(_ s: Step, _ w: Int8ConvWeights, _ q: ActivationQuantization, task: Int,
                     padded p: UnsafePointer<UInt8>, output y: UnsafeMutablePointer<Float>, range: UnsafeMutablePointer<Float>) {
        range[0] = .infinity; range[1] = -.infinity
        let chunkCount = chunks(w)
        let (_, tilesPerBlock) = blocks(s)
        let block = task / chunkCount, chunk = task % chunkCount
        let (_, OW, CO) = s.outShape
        let pixels = s.outShape.h * OW
        let PW = s.inShape.w + s.padLeft + s.padRight
        let c4 = w.c4, row = PW * c4
        let c0 = chunk * 32, width = min(32, w.coutPad - c0)
        let panel = w.panel + c0 * s.kernelH * w.groups * 4
        let first = block * tilesPerBlock * tilePixels
        let last = min(pixels, first + tilesPerBlock * tilePixels)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: tilePixels) { px in
            // Output pixel (oy, ox) of flat index p0, stepped without a
            // division per pixel (12 divisions cost a third of a 3×3×64 tile).
            var p0 = first, oy = first / OW, ox = first % OW
            let rowStep = s.strideH * PW * c4, pixelStep = s.strideW * c4
            while p0 < last {
                let n = min(tilePixels, last - p0)
                var offset = (oy * s.strideH * PW + ox * s.strideW) * c4
                for j in 0..<n {
                    px[j] = offset
                    ox += 1
                    offset += pixelStep
                    if ox == OW { ox = 0; oy += 1; offset = oy * rowStep }
                }
                for j in n..<tilePixels { px[j] = px[n - 1] }
                facec_q8_conv_tile(p, px.baseAddress, Int32(n), w.groups, row, Int32(s.kernelH),
                                   panel, Int32(width), w.colsum + c0, Int32(q.zeroPoint), q.scale,
                                   w.scales + c0, w.bias + c0, s.relu ? 1 : 0, y + p0 * CO + c0, CO, Int32(min(width, CO - c0)), range)
                p0 += n
            }
        }
    }
}
