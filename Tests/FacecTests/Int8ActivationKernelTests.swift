import Testing
import Foundation
@testable import FacecKernels
@testable import FacecRuntime

/// The int8 convolution on 8-bit activations (quantised per call, int8
/// weights; `vpdpbusd` on AVX-512 VNNI, `sdot` on aarch64 with the
/// dot-product extension) against two independent references written here:
/// - the same quantisation done in plain integer loops (Σ (q − zp)·w in Int):
///   the sums are exact, so any indexing, packing or zero-point slip shows;
/// - the float32 reference convolution on the dequantised weights and the
///   unquantised input, within the bound quantisation allows: each input is
///   off by at most scale/2, so an output by at most scale/2 · Σ|w|.
/// Random shapes cover 3-channel inputs (padded to 4), output channels that
/// are not a multiple of 16 or 32, strides, asymmetric padding, rows whose
/// length is not a multiple of the 12-pixel tile, signed inputs (zero point
/// above 0) and post-ReLU ones (zero point 0), on 1 and 2 threads.
@Suite(.enabled(if: Conformance.int8ActivationISA != nil, "needs AVX-512 VNNI or ARM's SDOT"))
struct Int8ActivationKernelTests {
    typealias Case = (h: Int, w: Int, cin: Int, cout: Int, k: (Int, Int), stride: (Int, Int), pad: (Int, Int, Int, Int), signed: Bool)

    static let cases: [Case] = [
        (9, 10, 3, 20, (3, 3), (1, 1), (1, 1, 1, 1), true), (13, 11, 5, 7, (1, 1), (1, 1), (0, 0, 0, 0), false),
        (15, 14, 6, 24, (3, 3), (2, 2), (1, 2, 0, 1), true), (2, 3, 4, 9, (2, 2), (1, 1), (0, 0, 0, 0), false),
        (7, 7, 16, 40, (7, 7), (1, 1), (0, 0, 0, 0), false), (20, 19, 3, 16, (4, 4), (1, 1), (0, 0, 0, 0), true),
        (5, 4, 60, 80, (2, 2), (1, 1), (0, 0, 0, 0), false), (3, 21, 70, 100, (3, 3), (1, 1), (1, 1, 1, 1), false),
        (14, 14, 64, 64, (3, 3), (1, 1), (1, 1, 1, 1), false), (6, 29, 33, 48, (3, 3), (1, 2), (1, 1, 1, 1), true),
    ]

    /// One layer's data: int8 weights [KH][KW][Cin][P] with per-channel scales
    /// spread over two orders of magnitude, a bias, an input.
    struct Layer {
        let c: Case
        let P: Int, oh: Int, ow: Int
        var x: [Float], q: [Int8], scales: [Float], bias: [Float]

        init(_ c: Case) {
            self.c = c
            var rng = KernelTests.Rng(state: UInt64(c.h * 1009 + c.cout * 37 + c.cin * 5 + (c.signed ? 1 : 0)))
            P = (c.cout + 7) / 8 * 8
            oh = (c.h + c.pad.0 + c.pad.1 - c.k.0) / c.stride.0 + 1
            ow = (c.w + c.pad.2 + c.pad.3 - c.k.1) / c.stride.1 + 1
            x = (0..<(c.h * c.w * c.cin)).map { _ in c.signed ? rng.next() * 3 + 0.7 : max(0, rng.next()) * 5 }
            let rows = c.k.0 * c.k.1 * c.cin
            q = [Int8](repeating: 0, count: rows * P)
            for r in 0..<rows { for o in 0..<c.cout { q[r * P + o] = Int8(Int(rng.next() * 127)) } }
            scales = [Float](repeating: 0, count: P)
            bias = [Float](repeating: 0, count: P)
            for o in 0..<c.cout { scales[o] = powf(10, rng.next()) / 127; bias[o] = rng.next() }
        }

        func step(relu: Bool) -> Step {
            var s = Step(kernel: .conv2dDirect, name: "q8", inputs: [0], output: 0, inShape: (c.h, c.w, c.cin),
                         outShape: (oh, ow, c.cout), count: oh * ow * c.cout)
            s.paddedOut = P; s.kernelH = c.k.0; s.kernelW = c.k.1; s.strideH = c.stride.0; s.strideW = c.stride.1
            s.padTop = c.pad.0; s.padBottom = c.pad.1; s.padLeft = c.pad.2; s.padRight = c.pad.3; s.relu = relu
            return s
        }

        /// Runs the VNNI path on `threads` threads: the output and the range it reported.
        func fast(relu: Bool, threads: Int) -> (out: [Float], range: ValueRange) {
            var out = [Float](repeating: .nan, count: oh * ow * c.cout)
            var range = ValueRange(lo: .nan, hi: .nan)
            let pool = WorkerPool(threads: threads)
            defer { pool.shutdown() }
            q.withUnsafeBufferPointer { qp in
                scales.withUnsafeBufferPointer { sp in
                    bias.withUnsafeBufferPointer { bp in
                        var s = step(relu: relu)
                        s.packed = .i8(qp.baseAddress!, scales: sp.baseAddress!)
                        s.bias = bp.baseAddress
                        let w = Int8ConvWeights(s)!
                        let padded = UnsafeMutableRawPointer.allocate(byteCount: Int8ConvWeights.paddedBytes(s), alignment: 64)
                        let ranges = UnsafeMutablePointer<Float>.allocate(capacity: 2 * max(threads, Int8ConvKernel.tasks(s, w)))
                        defer { padded.deallocate(); ranges.deallocate() }
                        x.withUnsafeBufferPointer { xp in
                            out.withUnsafeMutableBufferPointer { op in
                                range = Int8ConvKernel.run(s, w, input: xp.baseAddress!, output: op.baseAddress!, padded: padded,
                                                           ranges: ranges, pool: pool)
                            }
                        }
                    }
                }
            }
            return (out, range)
        }

        /// The input's quantisation, from its range.
        var quantization: ActivationQuantization { ActivationQuantization(lo: x.min()!, hi: x.max()!) }

        /// The integer reference, plus each output's quantisation bound scale/2 · Σ|w|.
        func integerReference(relu: Bool) -> (out: [Float], bound: [Double]) {
            let qa = quantization, inv = 1 / qa.scale
            let codes = x.map { v -> Int in min(255, max(0, Int((v * inv).rounded(.toNearestOrEven)) + qa.zeroPoint)) }
            var out = [Float](repeating: 0, count: oh * ow * c.cout), bound = [Double](repeating: 0, count: out.count)
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<c.cout {
                        var sum = 0, absW = 0
                        for ky in 0..<c.k.0 {
                            for kx in 0..<c.k.1 {
                                let iy = oy * c.stride.0 + ky - c.pad.0, ix = ox * c.stride.1 + kx - c.pad.2
                                for ci in 0..<c.cin {
                                    let wv = Int(q[((ky * c.k.1 + kx) * c.cin + ci) * P + o])
                                    absW += abs(wv)
                                    guard iy >= 0, iy < c.h, ix >= 0, ix < c.w else { continue }   // padding: code zp, (zp − zp)·w = 0
                                    sum += (codes[(iy * c.w + ix) * c.cin + ci] - qa.zeroPoint) * wv
                                }
                            }
                        }
                        let v = Double(sum) * Double(qa.scale) * Double(scales[o]) + Double(bias[o])
                        let i = (oy * ow + ox) * c.cout + o
                        out[i] = Float(relu ? max(0, v) : v)
                        bound[i] = Double(qa.scale) / 2 * Double(absW) * Double(scales[o])
                    }
                }
            }
            return (out, bound)
        }

        /// The float32 reference loops on q × scale and the unquantised input.
        func floatReference(relu: Bool) -> [Float] {
            var s = step(relu: relu)
            let deq = q.indices.map { Float(q[$0]) * scales[$0 % P] }
            var out = [Float](repeating: .nan, count: oh * ow * c.cout)
            deq.withUnsafeBufferPointer { dp in
                bias.withUnsafeBufferPointer { bp in
                    s.weights = dp.baseAddress; s.bias = bp.baseAddress
                    x.withUnsafeBufferPointer { Kernels.conv2d(s, input: $0.baseAddress!, output: &out) }
                }
            }
            return out
        }
    }

    @Test(arguments: cases.indices)
    func exactAgainstIntegerLoops(_ index: Int) {
        let layer = Layer(Self.cases[index])
        for relu in [false, true] {
            let (ref, _) = layer.integerReference(relu: relu)
            let scale = Double(ref.map { abs($0) }.max()!)
            for threads in [1, 2] {
                let (fast, range) = layer.fast(relu: relu, threads: threads)
                let err = zip(fast, ref).map { Double(abs($0 - $1)) }.max()!
                Conformance.expect(relu ? "int8 conv2d+relu" : "int8 conv2d", shape: "case \(index), \(threads) threads", isa: Conformance.int8ActivationISA, precision: .int8,
                                   error: fast.contains { $0.isNaN } ? .infinity : err / max(scale, 1e-30))
                // The reported range holds the output, and is no wider than the output and 0 (padding channels).
                let lo = fast.min()!, hi = fast.max()!
                #expect(range.lo <= lo && range.hi >= hi && range.lo >= min(lo, 0) && range.hi <= max(hi, 0),
                        "case \(index): reported \(range), output \(lo)...\(hi)")
            }
        }
    }

    @Test(arguments: cases.indices)
    func withinQuantisationBoundOfFloatReference(_ index: Int) {
        let layer = Layer(Self.cases[index])
        let fast = layer.fast(relu: false, threads: 2).out
        let ref = layer.floatReference(relu: false)
        let (_, bound) = layer.integerReference(relu: false)
        let scale = Double(ref.map { abs($0) }.max()!)
        var worst = 0.0
        for i in ref.indices {
            let excess = Double(abs(fast[i] - ref[i])) - bound[i] - 1e-5 * scale
            worst = max(worst, excess)
        }
        #expect(worst <= 0, "case \(index) (zero point \(layer.quantization.zeroPoint)): beyond the bound by \(worst)")
        #expect(layer.c.signed == (layer.quantization.zeroPoint > 0))
    }

    /// A layer whose int32 sums could overflow (K · 255 · 127 ≥ 2³¹) is not
    /// re-laid: it stays on the weight-only path (refused before any weight
    /// is read, so the tiny buffers here are never indexed).
    @Test func sumsThatCouldOverflowStayWeightOnly() {
        #expect(Int8ConvWeights.maxProducts == 66_311)
        let q = [Int8](repeating: 1, count: 8), scales = [Float](repeating: 1, count: 8), bias = [Float](repeating: 0, count: 8)
        q.withUnsafeBufferPointer { qp in
            scales.withUnsafeBufferPointer { sp in
                bias.withUnsafeBufferPointer { bp in
                    let cin = Int8ConvWeights.maxProducts / 9 + 4   // 3×3 × cin > the bound
                    var s = Step(kernel: .conv2dDirect, name: "big", inputs: [0], output: 0, inShape: (3, 3, cin),
                                 outShape: (1, 1, 1), count: 1)
                    s.kernelH = 3; s.kernelW = 3; s.paddedOut = 8; s.bias = bp.baseAddress
                    s.packed = .i8(qp.baseAddress!, scales: sp.baseAddress!)
                    #expect(Int8ConvWeights(s) == nil)
                }
            }
        }
    }

    @Test func quantizationOfDegenerateRanges() {
        #expect(ActivationQuantization(lo: 0, hi: 0) == ActivationQuantization(lo: 0, hi: 0))
        let zero = ActivationQuantization(lo: 0, hi: 0)
        #expect(zero.scale == 1 && zero.zeroPoint == 0)
        let negative = ActivationQuantization(lo: -2, hi: -1)   // 0 must stay representable
        #expect(negative.zeroPoint == 255 && negative.scale == 2 / 255)
        let relu = ActivationQuantization(lo: 0, hi: 51)
        #expect(relu.zeroPoint == 0 && relu.scale == 0.2)
        let infinite = ActivationQuantization(lo: -.infinity, hi: 1)
        #expect(infinite.scale == 1 && infinite.zeroPoint == 0)
    }
}
