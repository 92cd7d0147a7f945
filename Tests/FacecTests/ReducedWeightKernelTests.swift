import Testing
import Foundation
@testable import FacecKernels
@testable import FacecRuntime

/// The kernels reading f16 and int8 weights (`convert --weights`) against the
/// float32 reference loops run on the dequantised weights (Float(half) and
/// q × scale, computed here), on random shapes, with every instruction set
/// this CPU supports. Per-channel magnitudes spread over two orders of
/// magnitude, as in trained layers, so a scale applied to the wrong channel
/// shows.
@Suite struct ReducedWeightKernelTests {
    enum Stored: CaseIterable { case f16, i8 }

    /// Weights [rows][P] (zero padding past `cout`) quantised as `stored`:
    /// the bytes to run and the float32 values they stand for.
    struct Quantised {
        var half: [Float16] = []
        var int8: [Int8] = []
        var scales: [Float] = []
        var dequantised: [Float] = []

        init(_ w: [Float], rows: Int, cout: Int, P: Int, as stored: Stored) {
            switch stored {
            case .f16:
                half = w.map { Float16($0) }
                dequantised = half.map { Float($0) }
            case .i8:
                scales = [Float](repeating: 0, count: P)
                for c in 0..<cout { scales[c] = (0..<rows).map { abs(w[$0 * P + c]) }.max()! / 127 }
                int8 = w.indices.map { i in
                    let s = scales[i % P]
                    return s > 0 ? Int8(max(-127, min(127, (w[i] / s).rounded()))) : 0
                }
                dequantised = int8.indices.map { Float(int8[$0]) * scales[$0 % P] }
            }
        }

        /// Runs `body` with the step's weights pointing at the stored bytes.
        func with<R>(_ s: Step, as stored: Stored, _ body: (Step) -> R) -> R {
            var s = s
            switch stored {
            case .f16:
                return half.withUnsafeBufferPointer { s.packed = .f16($0.baseAddress!); s.weights = nil; return body(s) }
            case .i8:
                return int8.withUnsafeBufferPointer { q in
                    scales.withUnsafeBufferPointer { sc in
                        s.packed = .i8(q.baseAddress!, scales: sc.baseAddress!); s.weights = nil
                        return body(s)
                    }
                }
            }
        }
    }

    /// Random weights whose output channels' magnitudes span 0.1...10.
    static func weights(rows: Int, cout: Int, P: Int, rng: inout KernelTests.Rng) -> [Float] {
        let magnitude = (0..<cout).map { _ in powf(10, rng.next()) }   // rng: -1...1
        var w = [Float](repeating: 0, count: rows * P)
        for r in 0..<rows { for c in 0..<cout { w[r * P + c] = rng.next() * magnitude[c] } }
        return w
    }

    static func relativeError(_ fast: [Float], _ ref: [Float]) -> Double {
        var err = 0.0, scale = 0.0
        for i in ref.indices { err = max(err, Double(abs(fast[i] - ref[i]))); scale = max(scale, Double(abs(ref[i]))) }
        return fast.contains { $0.isNaN } ? .infinity : err / max(scale, 1e-30)
    }

    @Test(arguments: [
        (8, 8, 3, 20, (3, 3), (1, 1), (1, 1, 1, 1)), (13, 11, 5, 7, (1, 1), (1, 1), (0, 0, 0, 0)),
        (15, 14, 6, 24, (3, 3), (2, 2), (1, 2, 0, 1)), (2, 3, 4, 9, (2, 2), (1, 1), (0, 0, 0, 0)),
        (7, 7, 16, 12, (7, 7), (1, 1), (0, 0, 0, 0)), (20, 19, 3, 16, (4, 4), (1, 1), (0, 0, 0, 0)),
        (5, 4, 60, 80, (2, 2), (1, 1), (0, 0, 0, 0)), (3, 21, 70, 100, (3, 3), (1, 1), (1, 1, 1, 1)),
        (11, 9, 8, 56, (1, 1), (1, 1), (0, 0, 0, 0)), (9, 13, 32, 40, (3, 3), (1, 1), (1, 1, 1, 1)),
        // 32 channels, 23 pixels a row: int8's five-pixel tiles and their tail.
        (12, 23, 8, 32, (3, 3), (1, 1), (1, 1, 1, 1)),
    ] as [(Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int, Int, Int))])
    func convMatchesReferenceOnDequantisedWeights(_ c: (Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int, Int, Int))) {
        let (h, w, cin, cout, k, stride, pad) = c
        var rng = KernelTests.Rng(state: UInt64(h * 977 + cout * 31 + cin))
        let P = (cout + 7) / 8 * 8
        let oh = (h + pad.0 + pad.1 - k.0) / stride.0 + 1, ow = (w + pad.2 + pad.3 - k.1) / stride.1 + 1
        let rows = k.0 * k.1 * cin
        var x = (0..<(h * w * cin)).map { _ in rng.next() }
        let wts = Self.weights(rows: rows, cout: cout, P: P, rng: &rng)
        var bias = [Float](repeating: 0, count: P)
        for c in 0..<cout { bias[c] = rng.next() }
        for stored in Stored.allCases {
            let q = Quantised(wts, rows: rows, cout: cout, P: P, as: stored)
            for relu in [false, true] {
                var ref = [Float](repeating: .nan, count: oh * ow * cout)
                var padded = [Float](repeating: .nan, count: (h + pad.0 + pad.1) * (w + pad.2 + pad.3) * cin)
                var s = Step(kernel: .conv2dDirect, name: "t", inputs: [0], output: 0, inShape: (h, w, cin), outShape: (oh, ow, cout), count: oh * ow * cout)
                s.paddedOut = P; s.kernelH = k.0; s.kernelW = k.1; s.strideH = stride.0; s.strideW = stride.1
                s.padTop = pad.0; s.padBottom = pad.1; s.padLeft = pad.2; s.padRight = pad.3; s.relu = relu
                bias.withUnsafeBufferPointer { bp in
                    s.bias = bp.baseAddress
                    q.dequantised.withUnsafeBufferPointer { dp in
                        var r = s
                        r.weights = dp.baseAddress
                        x.withUnsafeMutableBufferPointer { Kernels.conv2d(r, input: $0.baseAddress!, output: &ref) }
                    }
                    x.withUnsafeMutableBufferPointer { xp in
                        padded.withUnsafeMutableBufferPointer { pp in ConvKernel.pad(s, input: xp.baseAddress!, into: pp.baseAddress!) }
                    }
                    for isa in KernelISA.supported {
                        var fast = [Float](repeating: .nan, count: oh * ow * cout)
                        q.with(s, as: stored) { sq in
                            padded.withUnsafeBufferPointer { pp in
                                fast.withUnsafeMutableBufferPointer { fp in
                                    for oy in 0..<oh { ConvKernel.row(sq, oy: oy, padded: pp.baseAddress!, output: fp.baseAddress!, wide: isa.wide) }
                                }
                            }
                        }
                        let err = Self.relativeError(fast, ref)
                        Conformance.expect(relu ? "conv2d+relu" : "conv2d", shape: "\(c) \(stored) weights", isa: isa, precision: .reducedWeights, error: err)
                    }
                }
            }
        }
    }

    @Test(arguments: [(1200, 160), (7, 9), (960, 161), (3000, 40), (5, 8)])
    func denseMatchesReferenceOnDequantisedWeights(_ shape: (Int, Int)) {
        var rng = KernelTests.Rng(state: UInt64(shape.0 * 7 + shape.1))
        let (n, out) = shape, P = (out + 7) / 8 * 8
        var x = (0..<n).map { i in i % 2 == 0 ? 0 : rng.next() }   // half zero, as after a ReLU
        let w = Self.weights(rows: n, cout: out, P: P, rng: &rng)
        var bias = [Float](repeating: 0, count: P)
        for c in 0..<out { bias[c] = rng.next() }
        for stored in Stored.allCases {
            let q = Quantised(w, rows: n, cout: out, P: P, as: stored)
            var ref = [Float](repeating: 0, count: out), fast = ref
            var scratch = [Float](repeating: 0, count: P * 3)
            var s = Step(kernel: .dense, name: "d", inputs: [0], output: 0, inShape: (1, 1, n), outShape: (1, 1, out), count: out)
            s.paddedOut = P; s.relu = true
            bias.withUnsafeBufferPointer { bp in
                s.bias = bp.baseAddress
                x.withUnsafeMutableBufferPointer { xp in
                    scratch.withUnsafeMutableBufferPointer { sp in
                        q.dequantised.withUnsafeBufferPointer { dp in
                            var r = s
                            r.weights = dp.baseAddress
                            Kernels.dense(r, input: xp.baseAddress!, output: &ref, scratch: sp.baseAddress!)
                        }
                        q.with(s, as: stored) { sq in
                            for t in 0..<3 {
                                DenseKernel.partial(sq, input: xp.baseAddress!, rows: n * t / 3, n * (t + 1) / 3, into: sp.baseAddress! + t * P)
                            }
                            DenseKernel.reduce(sq, partials: sp.baseAddress!, count: 3, stride: P, output: &fast)
                        }
                    }
                }
            }
            let err = Self.relativeError(fast, ref)
            Conformance.expect("dense", shape: "\(shape) \(stored) weights", precision: .reducedWeights, error: err)
        }
    }
}
