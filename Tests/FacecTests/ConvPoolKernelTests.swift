import Testing
import Foundation
@testable import FacecKernels
@testable import FacecRuntime

/// The fused convolution + 2×2 max pooling (`ConvPoolKernel`, AVX-512)
/// against the float32 reference convolution followed by the reference max
/// pooling, on random shapes: 3-channel inputs, 10-channel passes that end
/// inside the padded channels (17–20 channels), odd conv output sizes (the
/// last row or column is dropped by the pooling), rows that are not a
/// multiple of 16 pixels, padding, ReLU on and off. Plus when the runtime
/// fuses: DeepID's Conv1 + Pool1 on AVX-512, nothing on AVX2.
@Suite(.enabled(if: KernelISA.supported.contains(.avx512), "needs AVX-512"))
struct ConvPoolKernelTests {
    typealias Case = (h: Int, w: Int, cin: Int, cout: Int, k: (Int, Int), pad: (Int, Int, Int, Int))

    static let cases: [Case] = [
        (55, 47, 3, 20, (4, 4), (0, 0, 0, 0)),      // DeepID Conv1
        (20, 33, 5, 10, (3, 3), (1, 1, 1, 1)),
        (17, 40, 2, 17, (2, 3), (0, 1, 2, 0)),      // 17×40 conv output: odd rows
        (12, 18, 4, 19, (3, 3), (0, 0, 0, 0)),      // 10×16: one vector, 8 pooled columns
        (9, 37, 6, 20, (2, 2), (1, 0, 0, 1)),       // 9×37: odd both ways
    ]

    @Test(arguments: cases.indices, [false, true])
    func matchesConvolutionThenPooling(_ index: Int, relu: Bool) {
        let c = Self.cases[index]
        var rng = KernelTests.Rng(state: UInt64(index * 7919 + (relu ? 1 : 0)))
        let P = (c.cout + 7) / 8 * 8
        let oh = c.h + c.pad.0 + c.pad.1 - c.k.0 + 1, ow = c.w + c.pad.2 + c.pad.3 - c.k.1 + 1
        let ph = (oh - 2) / 2 + 1, pw = (ow - 2) / 2 + 1
        let x = (0..<(c.h * c.w * c.cin)).map { _ in rng.next() }
        var wts = [Float](repeating: 0, count: c.k.0 * c.k.1 * c.cin * P)
        for r in 0..<(c.k.0 * c.k.1 * c.cin) { for o in 0..<c.cout { wts[r * P + o] = rng.next() } }
        var bias = [Float](repeating: 0, count: P)
        for o in 0..<c.cout { bias[o] = rng.next() }

        var conv = Step(kernel: .conv2dDirect, name: "c", inputs: [0], output: 1, inShape: (c.h, c.w, c.cin),
                        outShape: (oh, ow, c.cout), count: oh * ow * c.cout)
        conv.paddedOut = P; conv.kernelH = c.k.0; conv.kernelW = c.k.1; conv.relu = relu
        conv.padTop = c.pad.0; conv.padBottom = c.pad.1; conv.padLeft = c.pad.2; conv.padRight = c.pad.3
        var pool = Step(kernel: .maxPool, name: "p", inputs: [1], output: 2, inShape: (oh, ow, c.cout),
                        outShape: (ph, pw, c.cout), count: ph * pw * c.cout)
        pool.kernelH = 2; pool.kernelW = 2; pool.strideH = 2; pool.strideW = 2

        var convOut = [Float](repeating: .nan, count: oh * ow * c.cout)
        var ref = [Float](repeating: .nan, count: ph * pw * c.cout)
        var fast = ref + [Float](repeating: 12345, count: 32)   // sentinels: nothing is stored past the output
        wts.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                conv.weights = wp.baseAddress; conv.bias = bp.baseAddress
                x.withUnsafeBufferPointer { xp in
                    Kernels.conv2d(conv, input: xp.baseAddress!, output: &convOut)
                    convOut.withUnsafeBufferPointer { Kernels.maxPool(pool, input: $0.baseAddress!, output: &ref) }
                    let planes = UnsafeMutablePointer<Float>.allocate(capacity: ConvPoolKernel.planarFloats(conv, pooledWidth: pw))
                    defer { planes.deallocate() }
                    ConvPoolKernel.planes(conv, pooledWidth: pw, input: xp.baseAddress!, into: planes)
                    fast.withUnsafeMutableBufferPointer { fp in
                        for py in (0..<ph).reversed() { ConvPoolKernel.row(conv, pool, py: py, planes: planes, output: fp.baseAddress!) }
                    }
                }
            }
        }
        #expect(fast[ref.count...].allSatisfy { $0 == 12345 }, "case \(index): stored past the output")
        let scale = Double(ref.map { abs($0) }.max()!)
        let err = zip(fast, ref).map { Double(abs($0 - $1)) }.max()!
        Conformance.expect(relu ? "conv2d+relu+maxpool" : "conv2d+maxpool", shape: "case \(index)", precision: .f32,
                           error: fast.contains { $0.isNaN } ? .infinity : err / scale)
    }

    @Test func deepIDConv1AndPool1RunAsOneOnAVX512Only() throws {
        let dir = TempDir()
        let model = try convertAndLoad(TestPaths.demoWeights, to: dir)
        #expect(model.header.nodes[0].name == "Conv1" && model.header.nodes[1].kernel == .maxPool)
        #expect(model.makeInstance(isa: .avx512).runsWithPrevious(1))
        #expect(!model.makeInstance(isa: .avx2).runsWithPrevious(1))
        // Nothing else in DeepID qualifies (Conv2 has 40 channels).
        #expect((2..<model.header.nodes.count).allSatisfy { !model.makeInstance(isa: .avx512).runsWithPrevious($0) })
        // Same embedding either way (the fused path against the separate kernels).
        let input = (0..<model.inputCount).map { Float(($0 * 37) % 255) / 255 }
        let fused = try model.makeInstance(isa: .avx512).embed(input)
        let separate = try model.makeInstance(isa: .avx2).embed(input)
        #expect(zip(fused, separate).map { abs($0 - $1) }.max()! <= 1e-5 * fused.map { abs($0) }.max()!)
    }
}
