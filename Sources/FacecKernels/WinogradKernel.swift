import FacecKernelsAVX512

/// Runtime half of Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions: 36
/// multiplications per 4×4 output tile and channel pair instead of 144.
/// Tiles are processed in blocks (one block per task, per-thread scratch):
///   1. input transform  V = Bᵀ d B of each 6×6 input patch, 8 channels at a time
///   2. 36 matrix products M[ξ] = V[ξ] · U[ξ] (the conv micro-kernels, K = Cin)
///   3. output transform Y = Aᵀ M A, + bias, ReLU, cropped at the edges.
/// The input is the zero-padded copy, extended so every tile's patch exists.
package enum WinogradKernel {
    typealias F8 = SIMD8<Float>
    static let tilesPerBlock = 24

    package struct Geometry {
        package let tilesH: Int, tilesW: Int, cinPad: Int, coutPad: Int
        /// Tiles per block (≤ tilesPerBlock): the tiles spread evenly over
        /// whole rounds of the threads (dlib's 17×17 maps: 25 tiles were
        /// blocks of 24 and 1, so a second thread did nothing).
        package var perBlock = WinogradKernel.tilesPerBlock
        package var tiles: Int { tilesH * tilesW }
        package var blocks: Int { (tiles + perBlock - 1) / perBlock }
        /// Padded input size every tile's 6×6 patch fits in.
        package var paddedH: Int { tilesH * 4 + 2 }
        package var paddedW: Int { tilesW * 4 + 2 }
        /// Floats of scratch one task needs (V block + M block).
        package var scratchFloats: Int { 36 * WinogradKernel.tilesPerBlock * (cinPad + coutPad) }
    }

    /// Layers whose whole transformed input and product (36·T·(Cin+Cout)
    /// floats) fit this budget run in three layer-wide phases instead of tile
    /// blocks, so each transformed weight block U[ξ] is read from memory once
    /// (deep layers: few tiles, large U) and work splits across threads by
    /// (ξ, output channels) even when there are few tiles.
    static let wholeLayerBudget = 4 << 20   // floats (16 MB)

    /// On several threads only for few tiles, or for large transformed
    /// weights. With many tiles and small U, the phases' barriers and the
    /// hand-over of V and M between cores cost more than re-reading U per
    /// block (dlib's 35×35 layers, 81 tiles: 0.13 ms on one thread, 0.19 ms
    /// on two; in blocks 0.11 ms on two). With U above 4 MB it is the other
    /// way: in blocks, every thread streams all of U once per block, and
    /// VGG-Face's 28×28×512 layers (U 36 MB) ran slower on two threads than
    /// on one (18.9 against 14.8 ms on a Zen 2); whole, 8.8 ms on two.
    package static func usesWholeLayer(_ g: Geometry, threads: Int) -> Bool {
        36 * g.tiles * (g.cinPad + g.coutPad) <= wholeLayerBudget
            && (threads == 1 || g.tiles <= 16 || 36 * g.cinPad * g.coutPad > largeWeights)
    }
    /// Floats of transformed weights (4 MB) above which a layer stays whole
    /// on several threads.
    static let largeWeights = 1 << 20

    /// Output-channel chunk of one phase-2 task; also the weight layout's chunk
    /// (U[ξ] is stored as contiguous [Cin][≤32] blocks, see WinogradWeights).
    package static let channelChunk = 32

    /// Phase 1: V[ξ][t][c] for tiles [t0, t1) of the whole layer.
    package static func inputTransform(_ s: Step, _ g: Geometry, tiles t0: Int, _ t1: Int, padded p: UnsafePointer<Float>, V: UnsafeMutablePointer<Float>,
                               wide: Bool) {
        let C = s.inShape.c, CP = g.cinPad
        let rowStride = g.paddedW * C
        for t in t0..<t1 {
            let ty = t / g.tilesW, tx = t % g.tilesW
            let base = p + (ty * 4) * rowStride + (tx * 4) * C
            inputTiles(base, rowStride: rowStride, C: C, CP: CP, out: V + t * CP, xiStride: g.tiles * CP, wide: wide)
        }
    }

    /// Phase 2: M[ξ][0..<T][c0..<c1] = V[ξ] · U[ξ][:, c0..<c1].
    package static func product(_ s: Step, _ g: Geometry, xi: Int, channels c0: Int, _ c1: Int,
                        V: UnsafePointer<Float>, M: UnsafeMutablePointer<Float>, zeros: UnsafePointer<Float>, wide: Bool) {
        let CP = g.cinPad, P = g.coutPad, T = g.tiles
        gemm(a: V + xi * T * CP, rows: T, K: CP, u: s.weights! + xi * CP * P, P: P, columns: c0, c1, zeros: zeros,
             m: M + xi * T * P, wide: wide)
    }

    /// Phase 3: output tiles [t0, t1) from M, with bias and ReLU.
    package static func outputTransform(_ s: Step, _ g: Geometry, tiles t0: Int, _ t1: Int, M: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
                                wide: Bool) {
        let (OH, OW, CO) = s.outShape
        let P = g.coutPad
        for t in t0..<t1 {
            let ty = t / g.tilesW, tx = t % g.tilesW
            let rows = min(4, OH - ty * 4), cols = min(4, OW - tx * 4)
            outputTiles(M + t * P, xiStride: g.tiles * P, P: P, bias: s.bias!, relu: s.relu,
                        out: y + ((ty * 4) * OW + tx * 4) * CO, rowStride: OW * CO, CO: CO, rows: rows, cols: cols, wide: wide)
        }
    }

    /// M[rows × (c0..<c1)] = A[rows × K] · U[ξ][:, c0..<c1] with the conv
    /// micro-kernels; `u` is U[ξ] in 32-channel chunks, c0 a chunk start.
    /// `wide`: the AVX-512 tiles (8 rows × 32 columns).
    @inline(__always)
    static func gemm(a: UnsafePointer<Float>, rows: Int, K: Int, u: UnsafePointer<Float>, P: Int,
                     columns c0: Int, _ c1: Int, zeros: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, wide: Bool) {
        let width = min(channelChunk, P - c0)
        // Column cb of the chunk is at b + cb with row stride `width`.
        let b = u + c0 * K - c0
        if wide {
            var r = 0
            while r < rows {
                let n = min(ConvTile512.pixels, rows - r)
                var cb = c0
                while cb < c1 {
                    let span = min(32, c1 - cb)
                    ConvTile512.tile(a + r * K, n: n, C: K, PW: 0, KH: 1, KW: 1, sx: 1, w: b + cb, P: width, span: span,
                                     bias: zeros, scales: nil, relu: false, out: m + r * P + cb, CO: P, valid: span)
                    cb += span
                }
                r += n
            }
            return
        }
        var r = 0
        while r < rows {
            let n = min(6, rows - r)
            var cb = c0
            while cb < c1 {
                let wide = cb + 8 < c1
                if n == 6 && wide {
                    ConvKernel.tile6x16(a + r * K, C: K, PW: 0, KH: 1, KW: 1, sx: 1, w: b + cb, P: width,
                                        bias: zeros, scales: nil, relu: false, out: m + r * P + cb, CO: P, valid: 16)
                } else if n == 6 {
                    ConvKernel.tile6x8(a + r * K, C: K, PW: 0, KH: 1, KW: 1, sx: 1, w: b + cb, P: width,
                                       bias: zeros, scales: nil, relu: false, out: m + r * P + cb, CO: P, valid: 8)
                } else {
                    ConvKernel.tileNx8or16(a + r * K, n: n, wide: wide, C: K, PW: 0, KH: 1, KW: 1, sx: 1, w: b + cb, P: width,
                                           bias: zeros, scales: nil, relu: false, out: m + r * P + cb, CO: P, valid: wide ? 16 : 8)
                }
                cb += wide ? 16 : 8
            }
            r += n
        }
    }

    package static func geometry(_ s: Step, threads: Int = 1) -> Geometry {
        var g = Geometry(tilesH: (s.outShape.h + 3) / 4, tilesW: (s.outShape.w + 3) / 4,
                         cinPad: (s.inShape.c + 7) / 8 * 8, coutPad: s.paddedOut)
        let rounds = (g.tiles + tilesPerBlock * threads - 1) / (tilesPerBlock * threads)
        g.perBlock = (g.tiles + rounds * threads - 1) / (rounds * threads)
        return g
    }

    /// One block of tiles. `p` is the padded input [paddedH][paddedW][Cin].
    package static func block(_ s: Step, _ g: Geometry, block: Int, padded p: UnsafePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>, zeros: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, wide: Bool) {
        let C = s.inShape.c, CP = g.cinPad, P = g.coutPad
        let t0 = block * g.perBlock, tn = min(g.perBlock, g.tiles - t0)
        let V = scratch, M = scratch + 36 * tilesPerBlock * CP
        let rowStride = g.paddedW * C
        // 1. Input transform.
        for t in 0..<tn {
            let ty = (t0 + t) / g.tilesW, tx = (t0 + t) % g.tilesW
            let base = p + (ty * 4) * rowStride + (tx * 4) * C
            inputTiles(base, rowStride: rowStride, C: C, CP: CP, out: V + t * CP, xiStride: tilesPerBlock * CP, wide: wide)
        }
        // 2. 36 products: M[ξ] (tn × P) = V[ξ] (tn × CP) · U[ξ] (CP × P).
        let U = s.weights!
        for xi in 0..<36 {
            var c0 = 0
            while c0 < P {
                gemm(a: V + xi * tilesPerBlock * CP, rows: tn, K: CP, u: U + xi * CP * P, P: P,
                     columns: c0, min(P, c0 + channelChunk), zeros: zeros, m: M + xi * tilesPerBlock * P, wide: wide)
                c0 += channelChunk
            }
        }
        // 3. Output transform, bias, ReLU, crop.
        let (OH, OW, CO) = s.outShape
        for t in 0..<tn {
            let ty = (t0 + t) / g.tilesW, tx = (t0 + t) % g.tilesW
            let rows = min(4, OH - ty * 4), cols = min(4, OW - tx * 4)
            outputTiles(M + t * P, xiStride: tilesPerBlock * P, P: P, bias: s.bias!, relu: s.relu,
                        out: y + ((ty * 4) * OW + tx * 4) * CO, rowStride: OW * CO, CO: CO, rows: rows, cols: cols, wide: wide)
        }
    }

    /// All CP (padded) input channels of one tile: 16 at a time with the
    /// AVX-512 transform while at least 16 remain, else 8.
    @inline(__always)
    static func inputTiles(_ base: UnsafePointer<Float>, rowStride: Int, C: Int, CP: Int,
                           out: UnsafeMutablePointer<Float>, xiStride: Int, wide: Bool) {
        var c = 0
        while c < CP {
            if wide && CP - c >= 16 {
                WinogradTransform512.inputTile(base, rowStride: rowStride, C: C, c: c, out: out + c, xiStride: xiStride)
                c += 16
            } else {
                inputTile(base, rowStride: rowStride, C: C, c: c, out: out + c, xiStride: xiStride)
                c += 8
            }
        }
    }

    /// All CO output channels of one tile from M's P columns, 16 or 8 at a time.
    @inline(__always)
    static func outputTiles(_ m: UnsafePointer<Float>, xiStride: Int, P: Int, bias: UnsafePointer<Float>, relu: Bool,
                            out: UnsafeMutablePointer<Float>, rowStride: Int, CO: Int, rows: Int, cols: Int, wide: Bool) {
        var c = 0
        while c < CO {
            if wide && P - c >= 16 {
                WinogradTransform512.outputTile(m + c, xiStride: xiStride, bias: bias + c, relu: relu, out: out + c,
                                                rowStride: rowStride, CO: CO, rows: rows, cols: cols, valid: min(16, CO - c))
                c += 16
            } else {
                outputTile(m + c, xiStride: xiStride, bias: bias + c, relu: relu, out: out + c, rowStride: rowStride, CO: CO,
                           rows: rows, cols: cols, valid: min(8, CO - c))
                c += 8
            }
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ valid: Int) -> F8 {
        if valid >= 8 { return UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
        var v = F8()
        for k in 0..<valid { v[k] = p[k] }
        return v
    }

    /// V[ξ][t][c..c+8] = (Bᵀ d B)[ξ] for the 6×6 patch at `base`.
    @inline(__always)
    static func inputTile(_ base: UnsafePointer<Float>, rowStride: Int, C: Int, c: Int,
                          out: UnsafeMutablePointer<Float>, xiStride: Int) {
        let valid = min(8, C - c)
        // Rows first: t[i][j] = (Bᵀ d)[i][j] for each column j.
        WinogradMath.withStackVectors36 { t in
            for j in 0..<6 {
                let col = base + j * C + c
                let d0 = load(col, valid), d1 = load(col + rowStride, valid), d2 = load(col + 2 * rowStride, valid)
                let d3 = load(col + 3 * rowStride, valid), d4 = load(col + 4 * rowStride, valid), d5 = load(col + 5 * rowStride, valid)
                let (r0, r1, r2, r3, r4, r5) = WinogradMath.bt(d0, d1, d2, d3, d4, d5)
                t[j] = r0; t[6 + j] = r1; t[12 + j] = r2; t[18 + j] = r3; t[24 + j] = r4; t[30 + j] = r5
            }
            for i in 0..<6 {
                let (v0, v1, v2, v3, v4, v5) = WinogradMath.bt(t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5])
                let o = out + (i * 6) * xiStride
                store(v0, o); store(v1, o + xiStride); store(v2, o + 2 * xiStride)
                store(v3, o + 3 * xiStride); store(v4, o + 4 * xiStride); store(v5, o + 5 * xiStride)
            }
        }
    }

    @inline(__always)
    static func outputTile(_ m: UnsafePointer<Float>, xiStride: Int, bias: UnsafePointer<Float>, relu: Bool,
                           out: UnsafeMutablePointer<Float>, rowStride: Int, CO: Int, rows: Int, cols: Int, valid: Int) {
        WinogradMath.withStackVectors36 { t in   // 4×6: Aᵀ M
            for j in 0..<6 {
                let (o0, o1, o2, o3) = WinogradMath.at(load(m + j * xiStride, 8), load(m + (6 + j) * xiStride, 8), load(m + (12 + j) * xiStride, 8),
                                          load(m + (18 + j) * xiStride, 8), load(m + (24 + j) * xiStride, 8), load(m + (30 + j) * xiStride, 8))
                t[j] = o0; t[6 + j] = o1; t[12 + j] = o2; t[18 + j] = o3
            }
            let b = load(bias, 8), zero = F8()
            for i in 0..<rows {
                let (y0, y1, y2, y3) = WinogradMath.at(t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5])
                let row = out + i * rowStride
                @inline(__always) func put(_ j: Int, _ v: F8) {
                    guard j < cols else { return }
                    var r = v + b
                    if relu { r = r.replacing(with: zero, where: r .< zero) }
                    let p = row + j * CO
                    if valid >= 8 { UnsafeMutableRawPointer(p).storeBytes(of: r, as: F8.self) } else { for k in 0..<valid { p[k] = r[k] } }
                }
                put(0, y0); put(1, y1); put(2, y2); put(3, y3)
            }
        }
    }

    @inline(__always)
    static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self) }

}
