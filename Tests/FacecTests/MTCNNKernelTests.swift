import Testing
@testable import FacecKernels
@testable import FacecDetectKernels
import FacecFormat
import FacecImage

/// MTCNN's network runner (convolution + PReLU, TF-SAME and VALID max
/// pooling, dense layers as batched 1×1 convolutions, merged heads) against
/// plain reference loops, on every instruction set, through the conformance
/// harness: seeded random networks shaped like the P-Net (any input size,
/// odd sizes for the SAME padding) and the O-Net (batch of crops).
@Suite struct MTCNNKernelTests {
    struct Net {
        var spec: MTCNNNet
        var tensors: [[Float]]
    }

    static func random(_ n: Int, _ seed: inout UInt64) -> [Float] {
        (0..<n).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
    }

    /// Layers given as (kind, kernel, stride, same, out); weights seeded.
    static func make(_ name: String, input: Int, _ layers: [(MTCNNLayer.Kind, Int, Int, Bool, Int)], seed: UInt64) -> Net {
        var s = seed, tensors: [[Float]] = [], spec: [MTCNNLayer] = []
        var (h, c) = (input == 0 ? 12 : input, 3)
        for (kind, k, stride, same, out) in layers {
            var l = MTCNNLayer(kind: kind, kernel: k, stride: stride, same: same, outChannels: out)
            let padded = (out + 7) / 8 * 8
            func add(_ rows: Int) -> Int {
                var values = [Float](repeating: 0, count: rows * padded)
                let r = random(rows * out, &s)
                for i in 0..<rows { for j in 0..<out { values[i * padded + j] = r[i * out + j] } }
                tensors.append(values)
                return tensors.count - 1
            }
            switch kind {
            case .maxPool: h = l.outputSize(h)!
            case .conv:
                l.weights = add(k * k * c); l.bias = add(1); l.alpha = add(1); c = out; h = l.outputSize(h)!
            case .dense:
                l.weights = add(h * h * c); l.bias = add(1); l.alpha = out > 8 ? add(1) : -1; c = out; h = 1
            }
            spec.append(l)
        }
        return Net(spec: MTCNNNet(name: name, inputSize: input, layers: spec), tensors: tensors)
    }

    /// The reference: the same layers by plain loops, in float64.
    static func reference(_ net: Net, _ input: [Float], height: Int, width: Int) -> [Float] {
        var x = input.map(Double.init)
        var (h, w, c) = (height, width, 3)
        for l in net.spec.layers {
            let padded = (l.outChannels + 7) / 8 * 8
            switch l.kind {
            case .conv, .dense:
                let k = l.kind == .dense ? h : l.kernel
                let oh = l.kind == .dense ? 1 : (h - k) / l.stride + 1, ow = l.kind == .dense ? 1 : (w - k) / l.stride + 1
                let kw = l.kind == .dense ? w : k
                var y = [Double](repeating: 0, count: oh * ow * l.outChannels)
                let wt = net.tensors[l.weights], b = net.tensors[l.bias]
                for oy in 0..<oh { for ox in 0..<ow { for o in 0..<l.outChannels {
                    var sum = Double(b[o])
                    for ky in 0..<k { for kx in 0..<kw { for ci in 0..<c {
                        let row = (ky * kw + kx) * c + ci
                        sum += x[((oy * l.stride + ky) * w + ox * l.stride + kx) * c + ci] * Double(wt[row * padded + o])
                    } } }
                    if l.alpha >= 0, sum <= 0 { sum *= Double(net.tensors[l.alpha][o]) }
                    y[(oy * ow + ox) * l.outChannels + o] = sum
                } } }
                (x, h, w, c) = (y, oh, ow, l.outChannels)
            case .maxPool:
                let oh = l.outputSize(h)!, ow = l.outputSize(w)!
                var y = [Double](repeating: 0, count: oh * ow * c)
                for oy in 0..<oh { for ox in 0..<ow { for ch in 0..<c {
                    var m = -Double.infinity
                    for ky in 0..<l.kernel { for kx in 0..<l.kernel {
                        let iy = oy * l.stride + ky - l.padBefore(h), ix = ox * l.stride + kx - l.padBefore(w)
                        if iy >= 0, iy < h, ix >= 0, ix < w { m = max(m, x[(iy * w + ix) * c + ch]) }
                    } }
                    y[(oy * ow + ox) * c + ch] = m
                } } }
                (x, h, w) = (y, oh, ow)
            }
        }
        return x.map(Float.init)
    }

    static let pnet = make("pnet", input: 0, [(.conv, 3, 1, false, 10), (.maxPool, 2, 2, true, 0), (.conv, 3, 1, false, 16),
                                              (.conv, 3, 1, false, 32), (.conv, 1, 1, false, 6)], seed: 1)
    static let onet = make("onet", input: 48, [(.conv, 3, 1, false, 32), (.maxPool, 3, 2, true, 0), (.conv, 3, 1, false, 64),
                                               (.maxPool, 3, 2, false, 0), (.conv, 3, 1, false, 64), (.maxPool, 2, 2, true, 0),
                                               (.conv, 2, 1, false, 128), (.dense, 1, 1, false, 256), (.dense, 1, 1, false, 16)], seed: 2)

    static func run(_ net: Net, isa: KernelISA, batch: Int, height: Int, width: Int, input: [Float]) -> [Float] {
        let runner = MTCNNNetwork(net.spec, isa: isa) { i in net.tensors[i].withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[...]) } }
        let n = runner.scratchFloats(height: height, width: width, batch: batch)
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { a.deallocate(); b.deallocate() }
        a.update(from: input, count: input.count)
        let o = runner.run(batch: batch, height: height, width: width, a: a, b: b)
        return Array(UnsafeBufferPointer(start: o.output, count: batch * o.h * o.w * o.c))
    }

    @Test(arguments: Conformance.instructionSets, [(12, 12), (13, 17), (40, 31), (57, 64)])
    func pnetShapedNetworkAtAnySize(_ isa: KernelISA, _ size: (Int, Int)) {
        var seed: UInt64 = 7
        let input = Self.random(size.0 * size.1 * 3, &seed)
        let got = Self.run(Self.pnet, isa: isa, batch: 1, height: size.0, width: size.1, input: input)
        let want = Self.reference(Self.pnet, input, height: size.0, width: size.1)
        Conformance.expect("mtcnn pnet (conv+prelu, same pool, merged heads)", shape: "\(size.0)x\(size.1)", isa: isa, precision: .f32, got: got, want: want)
    }

    @Test(arguments: Conformance.instructionSets)
    func onetShapedNetworkOnABatchOfCrops(_ isa: KernelISA) {
        var seed: UInt64 = 9
        let batch = 7
        let input = Self.random(batch * 48 * 48 * 3, &seed)
        let got = Self.run(Self.onet, isa: isa, batch: batch, height: 48, width: 48, input: input)
        var want: [Float] = []
        for i in 0..<batch {
            want += Self.reference(Self.onet, Array(input[(i * 6912)..<((i + 1) * 6912)]), height: 48, width: 48)
        }
        Conformance.expect("mtcnn onet (pools, dense as batched 1x1)", shape: "\(batch)x48x48", isa: isa, precision: .f32, got: got, want: want)
    }

    /// The pyramid's rows made from the framed photo band by band (with the
    /// frame's row sums reused) and the crops read pixel by pixel are bit for
    /// bit TF's operations on the materialised framed image.
    @Test(arguments: [(37, 23), (5, 64), (64, 3)])
    func framedResizeAndCropsEqualTheMaterialisedImage(_ size: (Int, Int)) {
        var seed: UInt64 = UInt64(size.0 * 100 + size.1)
        let pixels = Self.random(size.0 * size.1 * 3, &seed).map { UInt8(($0 + 1) * 127.5) }
        let image = MTCNNImage(DecodedImage(width: size.0, height: size.1, pixels: pixels))
        var framed = [Float](repeating: 0, count: image.width * image.height * 3)
        framed.withUnsafeMutableBufferPointer { f in
            for y in 0..<image.height { image.row(y, into: f.baseAddress! + y * image.width * 3) }
        }
        for scale in [0.6, 0.4254, 0.13, 0.051] {
            let oh = max(1, Int(Double(image.height) * scale)), ow = max(1, Int(Double(image.width) * scale))
            var want = [Float](repeating: 0, count: oh * ow * 3), got = want
            TFImageOps.resizeArea(framed, height: image.height, width: image.width, channels: 3, outHeight: oh, outWidth: ow, into: &want)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: image.width * image.height * 3)
            defer { scratch.deallocate() }
            var y = 0
            while y < oh {
                let rows = y..<min(oh, y + 3)
                got.withUnsafeMutableBufferPointer { g in
                    TFImageOps.resizeArea(image, outHeight: oh, outWidth: ow, rows: rows, scratch: scratch, into: g.baseAddress! + y * ow * 3)
                }
                y += 3
            }
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(size) at scale \(scale)")
        }
        for box: (Float, Float, Float, Float) in [(0.1, 0.2, 0.7, 0.9), (-0.2, -0.1, 0.5, 1.3), (0.3, 0.3, 0.31, 0.32)] {
            var want = [Float](repeating: 0, count: 24 * 24 * 3), got = want
            TFImageOps.cropAndResize(framed, height: image.height, width: image.width, channels: 3, box: box, size: 24, into: &want)
            TFImageOps.cropAndResize(image, box: box, size: 24, into: &got)
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(size) crop \(box)")
        }
    }
}
