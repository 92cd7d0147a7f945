import Testing
import FacecFormat
@testable import FacecKernels
@testable import FacecRuntime

/// The fast kernels against the plain reference loops (Kernels.conv2d /
/// Kernels.dense) on random shapes: channel counts that are not multiples of
/// 8, 1×1 and 7×7 kernels, stride 2, asymmetric padding, tiny inputs.
@Suite struct KernelTests {
    typealias Rng = Conformance.Rng

    static func convCase(h: Int, w: Int, cin: Int, cout: Int, k: (Int, Int), stride: (Int, Int), pad: (Int, Int, Int, Int), relu: Bool, seed: UInt64, isa: KernelISA) -> Double {
        var rng = Rng(state: seed)
        let P = (cout + 7) / 8 * 8
        let oh = (h + pad.0 + pad.1 - k.0) / stride.0 + 1, ow = (w + pad.2 + pad.3 - k.1) / stride.1 + 1
        var x = (0..<(h * w * cin)).map { _ in rng.next() }
        var wts = [Float](repeating: 0, count: k.0 * k.1 * cin * P)
        for r in 0..<(k.0 * k.1 * cin) { for c in 0..<cout { wts[r * P + c] = rng.next() } }
        var bias = [Float](repeating: 0, count: P)
        for c in 0..<cout { bias[c] = rng.next() }
        var ref = [Float](repeating: .nan, count: oh * ow * cout)
        // Sentinels past the end: a tile must never store outside the output.
        var fast = ref + [Float](repeating: 12345, count: 32)
        var padded = [Float](repeating: .nan, count: (h + pad.0 + pad.1) * (w + pad.2 + pad.3) * cin)
        wts.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                var s = Step(kernel: .conv2dDirect, name: "t", inputs: [0], output: 0, inShape: (h, w, cin), outShape: (oh, ow, cout), count: oh * ow * cout)
                s.weights = wp.baseAddress; s.bias = bp.baseAddress; s.paddedOut = P
                s.kernelH = k.0; s.kernelW = k.1; s.strideH = stride.0; s.strideW = stride.1
                s.padTop = pad.0; s.padBottom = pad.1; s.padLeft = pad.2; s.padRight = pad.3; s.relu = relu
                x.withUnsafeMutableBufferPointer { xp in
                    Kernels.conv2d(s, input: xp.baseAddress!, output: &ref)
                    padded.withUnsafeMutableBufferPointer { pp in
                        ConvKernel.pad(s, input: xp.baseAddress!, into: pp.baseAddress!)
                        fast.withUnsafeMutableBufferPointer { fp in
                            if PatchConv.isSinglePixel(s) {
                                // One output pixel: a dense layer over its patch, in two row ranges.
                                let d = PatchConv.denseStep(s), n = d.inShape.c
                                var patch = [Float](repeating: .nan, count: n), partials = [Float](repeating: .nan, count: 2 * P)
                                PatchConv.gather(s, pixel: 0, padded: pp.baseAddress!, into: &patch, stride: 1)
                                DenseKernel.partial(d, input: patch, rows: 0, n / 2, into: &partials)
                                partials.withUnsafeMutableBufferPointer { part in
                                    DenseKernel.partial(d, input: patch, rows: n / 2, n, into: part.baseAddress! + P)
                                    DenseKernel.reduce(d, partials: part.baseAddress!, count: 2, stride: P, output: fp.baseAddress!)
                                }
                                return
                            }
                            if PatchConv.applies(s) || TensorLayout.blockedMap(height: oh, width: ow, strided: stride.0 * stride.1 > 1) {
                                // Small maps: im2col patches in 6-pixel rows (Model.conv's path).
                                let p = PatchConv.patchStep(s)
                                var scratch = [Float](repeating: .nan, count: PatchConv.floats(s, tails: 3))
                                var second = [Float](repeating: .nan, count: oh * ow * cout)
                                scratch.withUnsafeMutableBufferPointer { q in
                                    let groups = p.outShape.h, tails = q.baseAddress! + groups * p.outShape.w * p.inShape.c
                                    // Patch rows in two parts, the second first (threads gather them in any order).
                                    PatchConv.gather(s, groups: (groups / 2)..<groups, padded: pp.baseAddress!, into: q.baseAddress!)
                                    PatchConv.gather(s, groups: 0..<(groups / 2), padded: pp.baseAddress!, into: q.baseAddress!)
                                    // Two channel ranges, the second first, each with its own tail.
                                    for (t, (c0, c1)) in PatchConv.channelRanges(p, threads: 2).enumerated().reversed() {
                                        PatchConv.channels(p, c0, c1, patches: q.baseAddress!, output: fp.baseAddress!, pixels: oh * ow,
                                                           tail: tails + t * 6 * cout)
                                    }
                                    let out = UnsafeMutablePointer<Float>.allocate(capacity: oh * ow * cout)
                                    defer { out.deallocate() }
                                    // The compiler's blocked layout ([Cout/16][K][16]) must give the same bits.
                                    let k = k.0 * k.1 * cin, blocks = (cout + 15) / 16
                                    var blocked = [Float](repeating: 0, count: blocks * k * 16)
                                    for b in 0..<blocks { for r in 0..<k { for c in 0..<16 where b * 16 + c < cout { blocked[(b * k + r) * 16 + c] = wts[r * P + b * 16 + c] } } }
                                    var pb = p
                                    pb.blockedWeights = true
                                    blocked.withUnsafeBufferPointer { bw in
                                        pb.weights = bw.baseAddress; pb.packed = .f32(bw.baseAddress!)
                                        for (t, (c0, c1)) in PatchConv.channelRanges(pb, threads: 3).enumerated() {
                                            PatchConv.channels(pb, c0, c1, patches: q.baseAddress!, output: out, pixels: oh * ow, tail: tails + t * 6 * cout)
                                        }
                                    }
                                    for i in 0..<(oh * ow * cout) { second[i] = out[i] }
                                    for i in 0..<(oh * ow * cout) where second[i] != fp[i] { fp[i] = .nan }
                                }
                                return
                            }
                            // Bottom row first: a row must not lean on its successor being written later
                            // (rows run on different threads in any order).
                            for oy in (0..<oh).reversed() { ConvKernel.row(s, oy: oy, padded: pp.baseAddress!, output: fp.baseAddress!, wide: isa.wide) }
                        }
                    }
                }
            }
        }
        guard fast[ref.count...].allSatisfy({ $0 == 12345 }) else { return .infinity }
        var err = 0.0, scale = 0.0
        for i in ref.indices { err = max(err, Double(abs(fast[i] - ref[i]))); scale = max(scale, Double(abs(ref[i]))) }
        return fast.contains { $0.isNaN } ? .infinity : err / max(scale, 1e-30)
    }

    @Test(arguments: [
        (8, 8, 3, 20, (3, 3), (1, 1), (1, 1, 1, 1)), (13, 11, 5, 7, (1, 1), (1, 1), (0, 0, 0, 0)),
        (9, 10, 9, 17, (7, 7), (1, 1), (3, 3, 3, 3)), (15, 14, 6, 24, (3, 3), (2, 2), (1, 2, 0, 1)),
        (2, 3, 4, 9, (2, 2), (1, 1), (0, 0, 0, 0)), (1, 1, 33, 40, (1, 1), (1, 1), (0, 0, 0, 0)),
        (7, 7, 16, 12, (7, 7), (1, 1), (0, 0, 0, 0)), (20, 19, 3, 16, (4, 4), (1, 1), (0, 0, 0, 0)),
        (6, 17, 11, 31, (3, 2), (2, 1), (2, 0, 1, 3)), (5, 4, 60, 80, (2, 2), (1, 1), (0, 0, 0, 0)),
        (3, 21, 70, 100, (3, 3), (1, 1), (1, 1, 1, 1)), (11, 9, 8, 56, (1, 1), (1, 1), (0, 0, 0, 0)),
        // dlib's ResNet: the 7×7/2 stem, unpadded 3×3/2 downsamplings, and maps
        // narrower than a tile (PatchConv: 4×4, 3×3, 5 columns, 2 rows).
        (40, 38, 3, 32, (7, 7), (2, 2), (0, 0, 0, 0)), (35, 35, 32, 64, (3, 3), (2, 2), (0, 0, 0, 0)),
        (8, 8, 128, 256, (3, 3), (2, 2), (0, 0, 0, 0)), (4, 4, 256, 256, (3, 3), (1, 1), (1, 1, 1, 1)),
        (3, 3, 40, 24, (3, 3), (1, 1), (1, 1, 1, 1)), (2, 5, 9, 20, (3, 3), (1, 1), (1, 1, 1, 1)),
        (4, 4, 256, 256, (3, 3), (2, 2), (0, 0, 0, 0)), (5, 5, 12, 9, (3, 3), (3, 3), (0, 0, 0, 0)),
        (8, 8, 64, 40, (3, 3), (1, 1), (1, 1, 1, 1)), (7, 9, 5, 24, (3, 3), (1, 1), (1, 1, 1, 1)),
    ] as [(Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int, Int, Int))])
    func fastConvMatchesReference(_ c: (Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int, Int, Int))) {
        for isa in KernelISA.supported {
            for relu in [false, true] {
                let err = Self.convCase(h: c.0, w: c.1, cin: c.2, cout: c.3, k: c.4, stride: c.5, pad: c.6, relu: relu,
                                        seed: UInt64(c.0 * 131 + c.3), isa: isa)
                Conformance.expect(relu ? "conv2d+relu" : "conv2d", shape: "\(c)", isa: isa, precision: .f32, error: err)
            }
        }
    }

    @Test(arguments: [(1200, 160), (7, 9), (960, 161), (3000, 40), (5, 8)])
    func denseRowSplitMatchesReference(_ shape: (Int, Int)) {
        var rng = Rng(state: UInt64(shape.0 + shape.1))
        let (n, out) = shape, P = (out + 7) / 8 * 8
        // Half the inputs zero, as after a ReLU.
        var x = (0..<n).map { i in i % 2 == 0 ? 0 : rng.next() }
        var w = [Float](repeating: 0, count: n * P)
        for r in 0..<n { for c in 0..<out { w[r * P + c] = rng.next() } }
        var bias = [Float](repeating: 0, count: P)
        for c in 0..<out { bias[c] = rng.next() }
        var ref = [Float](repeating: 0, count: out), fast = ref
        var scratch = [Float](repeating: 0, count: P * 3)
        w.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                var s = Step(kernel: .dense, name: "d", inputs: [0], output: 0, inShape: (1, 1, n), outShape: (1, 1, out), count: out)
                s.weights = wp.baseAddress; s.bias = bp.baseAddress; s.paddedOut = P; s.relu = true
                x.withUnsafeMutableBufferPointer { xp in
                    scratch.withUnsafeMutableBufferPointer { sp in
                        Kernels.dense(s, input: xp.baseAddress!, output: &ref, scratch: sp.baseAddress!)
                        for t in 0..<3 {
                            DenseKernel.partial(s, input: xp.baseAddress!, rows: n * t / 3, n * (t + 1) / 3, into: sp.baseAddress! + t * P)
                        }
                        DenseKernel.reduce(s, partials: sp.baseAddress!, count: 3, stride: P, output: &fast)
                    }
                }
            }
        }
        var err: Float = 0, scale: Float = 0
        for i in ref.indices { err = max(err, abs(fast[i] - ref[i])); scale = max(scale, abs(ref[i])) }
        Conformance.expect("dense", shape: "\(shape)", precision: .f32, error: Double(err / max(scale, 1e-30)))
    }
}

extension KernelTests {
    // 2×2 max windows with C % 4 == 0 take the four-load path (edges and padding the general one).
    @Test(arguments: [(10, 9, 20, 2, 2, 2, 0), (7, 7, 13, 3, 3, 2, 1), (5, 6, 8, 3, 2, 1, 1), (4, 4, 3, 2, 2, 2, 0),
                      (9, 11, 24, 2, 2, 2, 0), (7, 7, 8, 2, 2, 2, 1), (5, 6, 12, 2, 2, 1, 0), (6, 5, 4, 2, 2, 2, 1)])
    func vectorPoolingMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int)) {
        var rng = Rng(state: UInt64(c.0 * 7 + c.2))
        let (h, w, ch, kh, kw, st, pad) = c
        let oh = (h + 2 * pad - kh) / st + 1, ow = (w + 2 * pad - kw) / st + 1
        let x = (0..<(h * w * ch)).map { _ in rng.next() }
        for isMax in [true, false] {
            var s = Step(kernel: isMax ? .maxPool : .avgPool, name: "p", inputs: [0], output: 0, inShape: (h, w, ch), outShape: (oh, ow, ch), count: oh * ow * ch)
            s.kernelH = kh; s.kernelW = kw; s.strideH = st; s.strideW = st; s.padTop = pad; s.padLeft = pad; s.padBottom = pad; s.padRight = pad
            var ref = [Float](repeating: 0, count: oh * ow * ch), fast = ref
            x.withUnsafeBufferPointer { xp in
                if isMax { Kernels.maxPool(s, input: xp.baseAddress!, output: &ref) } else { Kernels.avgPool(s, input: xp.baseAddress!, output: &ref) }
                fast.withUnsafeMutableBufferPointer { fp in
                    for oy in 0..<oh { PoolKernel.row(s, oy: oy, isMax: isMax, input: xp.baseAddress!, output: fp.baseAddress!) }
                }
            }
            Conformance.expect(isMax ? "max pool" : "avg pool", shape: "\(c)", precision: .f32, got: fast, want: ref)
        }
    }
}

/// Winograd F(4×4, 3×3) against the reference direct loops: edges that crop
/// tiles, tiny inputs, channel counts that are not multiples of 8.
extension KernelTests {
    @Test(arguments: [(8, 8, 32, 32), (14, 14, 40, 24), (5, 7, 9, 13), (1, 1, 16, 8), (3, 2, 17, 33), (30, 29, 64, 20), (4, 4, 8, 64),
                      (9, 13, 24, 72), (17, 6, 16, 40), (35, 35, 32, 32), (17, 17, 64, 64)])
    func winogradMatchesReference(_ c: (Int, Int, Int, Int)) {
        for isa in KernelISA.supported {
            for wholeLayer in [false, true] { Self.winogradCase(c, isa: isa, wholeLayer: wholeLayer) }
            // Blocks sized for 2 and 3 threads (tiles spread evenly, fewer than 24 per block).
            for threads in [2, 3] { Self.winogradCase(c, isa: isa, wholeLayer: false, threads: threads) }
        }
    }

    /// Which Winograd layers run as three layer-wide phases on several
    /// threads: few tiles, or transformed weights over 4 MB (every thread
    /// would stream them once per block); dlib's 35×35×32 layers stay in blocks.
    @Test func wholeLayerPhasesOnSeveralThreadsForFewTilesOrLargeWeights() {
        func whole(_ h: Int, _ c: Int) -> Bool {
            WinogradKernel.usesWholeLayer(WinogradKernel.Geometry(tilesH: (h + 3) / 4, tilesW: (h + 3) / 4, cinPad: c, coutPad: c), threads: 2)
        }
        #expect(whole(28, 512) && whole(56, 256) && whole(14, 512))
        #expect(!whole(35, 32) && !whole(112, 128))
    }

    static func winogradCase(_ c: (Int, Int, Int, Int), isa: KernelISA, wholeLayer: Bool, threads: Int = 1) {
        let wide = isa.wide
        var rng = Rng(state: UInt64(c.0 * 31 + c.2 * 7 + c.3))
        let (h, w, cin, cout) = c
        let P = (cout + 7) / 8 * 8, CP = (cin + 7) / 8 * 8
        let x = (0..<(h * w * cin)).map { _ in rng.next() }
        var hwio = [Float](repeating: 0, count: 9 * cin * cout)
        for i in hwio.indices { hwio[i] = rng.next() }
        var direct = [Float](repeating: 0, count: 9 * cin * P)
        for r in 0..<(9 * cin) { for co in 0..<cout { direct[r * P + co] = hwio[r * cout + co] } }
        let u = WinogradTestBridge.transform(hwio, cin: cin, cout: cout, cinPad: CP, coutPad: P)
        var bias = [Float](repeating: 0, count: P)
        for i in 0..<cout { bias[i] = rng.next() }
        var ref = [Float](repeating: 0, count: h * w * cout), fast = [Float](repeating: .nan, count: h * w * cout)
        direct.withUnsafeBufferPointer { dp in u.withUnsafeBufferPointer { up in bias.withUnsafeBufferPointer { bp in
            var s = Step(kernel: .conv2dDirect, name: "w", inputs: [0], output: 0, inShape: (h, w, cin), outShape: (h, w, cout), count: h * w * cout)
            s.bias = bp.baseAddress; s.paddedOut = P; s.kernelH = 3; s.kernelW = 3
            s.padTop = 1; s.padBottom = 1; s.padLeft = 1; s.padRight = 1; s.relu = true
            var r = s
            r.weights = dp.baseAddress
            x.withUnsafeBufferPointer { Kernels.conv2d(r, input: $0.baseAddress!, output: &ref) }
            s.kernel = .conv2dWinogradF43
            s.weights = up.baseAddress
            let g = WinogradKernel.geometry(s, threads: threads)
            var padded = [Float](repeating: .nan, count: g.paddedH * g.paddedW * cin)
            var scratch = [Float](repeating: .nan, count: max(g.scratchFloats, 36 * g.tiles * (g.cinPad + g.coutPad)))
            let zeros = [Float](repeating: 0, count: P)
            x.withUnsafeBufferPointer { xp in padded.withUnsafeMutableBufferPointer { pp in
                ConvKernel.pad(s, input: xp.baseAddress!, into: pp.baseAddress!, extraBottom: g.paddedH - h - 2, extraRight: g.paddedW - w - 2)
                scratch.withUnsafeMutableBufferPointer { sp in zeros.withUnsafeBufferPointer { zp in fast.withUnsafeMutableBufferPointer { fp in
                    if wholeLayer {
                        // The three layer-wide phases, split into uneven pieces as threads would.
                        let V = sp.baseAddress!, M = V + 36 * g.tiles * g.cinPad
                        let cut = g.tiles / 3
                        WinogradKernel.inputTransform(s, g, tiles: 0, cut, padded: pp.baseAddress!, V: V, wide: wide)
                        WinogradKernel.inputTransform(s, g, tiles: cut, g.tiles, padded: pp.baseAddress!, V: V, wide: wide)
                        for xi in 0..<36 {
                            var c0 = 0
                            while c0 < g.coutPad {
                                let c1 = min(g.coutPad, c0 + WinogradKernel.channelChunk)
                                WinogradKernel.product(s, g, xi: xi, channels: c0, c1, V: V, M: M, zeros: zp.baseAddress!, wide: wide)
                                c0 = c1
                            }
                        }
                        WinogradKernel.outputTransform(s, g, tiles: 0, cut, M: M, output: fp.baseAddress!, wide: wide)
                        WinogradKernel.outputTransform(s, g, tiles: cut, g.tiles, M: M, output: fp.baseAddress!, wide: wide)
                    } else {
                        for b in 0..<g.blocks {
                            WinogradKernel.block(s, g, block: b, padded: pp.baseAddress!, scratch: sp.baseAddress!, zeros: zp.baseAddress!,
                                                 output: fp.baseAddress!, wide: wide)
                        }
                    }
                } } }
            } }
        } } }
        var err: Float = 0, scale: Float = 0
        for i in ref.indices { err = max(err, abs(fast[i] - ref[i])); scale = max(scale, abs(ref[i])) }
        #expect(!fast.contains { $0.isNaN }, "\(c) \(isa) whole layer \(wholeLayer): output not fully written")
        Conformance.expect(wholeLayer ? "winograd (layer phases)" : "winograd (tile blocks)", shape: "\(c)", isa: isa, precision: .f32,
                           error: Double(err / scale))
    }
}

/// dlib's add_prev: tensors of different shapes, each zero-extended to the
/// largest extent (top-left, first channels), against an explicit
/// zero-padding of every operand followed by a plain sum.
@Suite struct ZeroExtendedAddTests {
    @Test(arguments: [
        [(3, 3, 256), (4, 4, 128)], [(1, 1, 256), (2, 2, 256)], [(17, 17, 64), (17, 17, 32)],
        [(5, 2, 3), (2, 5, 7), (4, 4, 1)],
    ] as [[(Int, Int, Int)]])
    func matchesPaddedSum(_ shapes: [(Int, Int, Int)]) {
        var rng = KernelTests.Rng(state: UInt64(shapes.count * 97 + shapes[0].2))
        let out = (shapes.map(\.0).max()!, shapes.map(\.1).max()!, shapes.map(\.2).max()!)
        let inputs = shapes.map { s in (0..<(s.0 * s.1 * s.2)).map { _ in rng.next() } }
        for relu in [false, true] {
            var expected = [Float](repeating: 0, count: out.0 * out.1 * out.2)
            for (x, s) in zip(inputs, shapes) {
                var padded = [Float](repeating: 0, count: expected.count)
                for r in 0..<s.0 { for c in 0..<s.1 { for k in 0..<s.2 { padded[(r * out.1 + c) * out.2 + k] = x[(r * s.1 + c) * s.2 + k] } } }
                for i in expected.indices { expected[i] += padded[i] }
            }
            if relu { expected = expected.map { max($0, 0) } }
            var s = Step(kernel: .add, name: "t", inputs: [], output: 0, inShape: (0, 0, 0), outShape: out, count: expected.count)
            s.addShapes = shapes.map { ($0.0, $0.1, $0.2) }
            s.relu = relu
            var got = [Float](repeating: .nan, count: expected.count)
            let buffers = inputs.map { a -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: a.count)
                p.initialize(from: a, count: a.count)
                return p
            }
            defer { buffers.forEach { $0.deallocate() } }
            Kernels.add(s, inputs: buffers.map { UnsafePointer($0) }, output: &got)
            #expect(got == expected, "shapes \(shapes) relu \(relu)")
            // In three parts (rows), last first, as threads share it.
            var split = [Float](repeating: .nan, count: expected.count)
            for part in (0..<3).reversed() { Kernels.add(s, inputs: buffers.map { UnsafePointer($0) }, output: &split, part: part, of: 3) }
            #expect(split == expected, "shapes \(shapes) relu \(relu), in parts")
        }
    }
}
