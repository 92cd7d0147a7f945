import FacecFormat
import FacecKernels

/// One of MTCNN's three networks, run on FacecKernels' convolution and
/// pooling kernels at whatever input size it is given (the P-Net runs on
/// every pyramid level, in bands): layers with shapes worked out per call,
/// each convolution followed row by row by its PReLU while the row is in
/// cache, the dense layers as 1×1 convolutions over a batch of crops (so the
/// 6-pixel tiles reuse each weight six times). The weights are copied out of
/// the model file at load (0.5 M floats for all three networks); the spec
/// was checked against them (`MTCNNSpec.problem(tensors:)`).
/// Immutable after init: one instance serves every thread, each with its
/// own scratch.
package final class MTCNNNetwork: @unchecked Sendable {
    struct Layer {
        let spec: MTCNNLayer
        let weights: UnsafeMutablePointer<Float>?
        let bias: UnsafeMutablePointer<Float>?
        let alpha: UnsafeMutablePointer<Float>?
    }

    package let net: MTCNNNet
    private let layers: [Layer]
    private let wide: Bool
    private var owned: [UnsafeMutablePointer<Float>] = []

    /// `tensor(i)`: tensor i of the model file (float32, as checked).
    package init(_ net: MTCNNNet, isa: KernelISA = .best, tensor: (Int) -> UnsafeBufferPointer<Float>) {
        self.net = net
        wide = isa.wide
        var owned: [UnsafeMutablePointer<Float>] = []
        func copy(_ index: Int) -> UnsafeMutablePointer<Float>? {
            guard index >= 0 else { return nil }
            let t = tensor(index)
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, t.count) + 16)
            p.initialize(repeating: 0, count: max(1, t.count) + 16)   // the tiles may read a vector past the end
            if let base = t.baseAddress { p.update(from: base, count: t.count) }
            owned.append(p)
            return p
        }
        layers = net.layers.map { Layer(spec: $0, weights: copy($0.weights), bias: copy($0.bias), alpha: copy($0.alpha)) }
        self.owned = owned
    }

    deinit { for p in owned { p.deallocate() } }

    /// The output of an `height` × `width` × 3 input, or nil when it is too small.
    package func outputShape(height: Int, width: Int) -> (h: Int, w: Int, c: Int)? { net.outputShape(height: height, width: width) }

    /// Floats each of the two scratch buffers of `run` needs for an input of
    /// `height` × `width` × 3, `batch` crops at a time.
    package func scratchFloats(height: Int, width: Int, batch: Int = 1) -> Int {
        var (h, w, c) = (height, width, 3)
        var most = h * w * c * batch
        for l in net.layers {
            (h, w) = (l.outputSize(h) ?? 0, l.outputSize(w) ?? 0)
            if l.kind == .dense { (h, w) = (1, 1) }
            if l.kind != .maxPool { c = (l.outChannels + 7) / 8 * 8 }
            most = max(most, h * w * c * batch)
        }
        return most + 64
    }

    /// Runs the network on `batch` inputs of `height` × `width` × 3 lying one
    /// after the other in `a` (which it overwrites), with `b` as the other
    /// buffer (both `scratchFloats` long). Returns the buffer holding the
    /// outputs, one (h, w, c) map per input, one after the other.
    package func run(batch: Int, height: Int, width: Int, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>)
        -> (output: UnsafeMutablePointer<Float>, h: Int, w: Int, c: Int) {
        var (x, y) = (a, b)
        var (h, w, c) = (height, width, 3)
        for l in layers {
            let s = l.spec
            switch s.kind {
            case .conv:
                let oh = s.outputSize(h)!, ow = s.outputSize(w)!
                let step = convStep(l, inShape: (h, w, c), outShape: (oh, ow, s.outChannels))
                // The slopes repeated along a row, so the PReLU runs as whole vectors.
                let slopes = l.alpha.map { a in (0..<(ow * s.outChannels)).map { a[$0 % s.outChannels] } } ?? []
                slopes.withUnsafeBufferPointer { slopes in
                    for i in 0..<batch {
                        let input = UnsafePointer(x + i * h * w * c), output = y + i * oh * ow * s.outChannels
                        for oy in 0..<oh {
                            ConvKernel.row(step, oy: oy, padded: input, output: output, wide: wide)
                            if let a = slopes.baseAddress { Self.prelu(output + oy * ow * s.outChannels, count: slopes.count, slopes: a) }
                        }
                    }
                }
                (h, w, c) = (oh, ow, s.outChannels)
            case .maxPool:
                let oh = s.outputSize(h)!, ow = s.outputSize(w)!
                var step = Step(kernel: .maxPool, name: "", inputs: [], output: 0, inShape: (h, w, c), outShape: (oh, ow, c), count: oh * ow * c)
                step.kernelH = s.kernel; step.kernelW = s.kernel; step.strideH = s.stride; step.strideW = s.stride
                step.padTop = s.padBefore(h); step.padBottom = s.padAfter(h)
                step.padLeft = s.padBefore(w); step.padRight = s.padAfter(w)
                for i in 0..<batch {
                    let input = UnsafePointer(x + i * h * w * c), output = y + i * oh * ow * c
                    for oy in 0..<oh { PoolKernel.row(step, oy: oy, isMax: true, input: input, output: output) }
                }
                (h, w) = (oh, ow)
            case .dense:
                // The batch's flattened maps are the pixels of one row: a 1×1 convolution.
                let inCount = h * w * c
                let step = convStep(l, inShape: (1, batch, inCount), outShape: (1, batch, s.outChannels))
                ConvKernel.row(step, oy: 0, padded: UnsafePointer(x), output: y, wide: wide)
                if let alpha = l.alpha {
                    let slopes = (0..<(batch * s.outChannels)).map { alpha[$0 % s.outChannels] }
                    slopes.withUnsafeBufferPointer { Self.prelu(y, count: $0.count, slopes: $0.baseAddress!) }
                }
                (h, w, c) = (1, 1, s.outChannels)
            }
            swap(&x, &y)
        }
        return (x, h, w, c)
    }

    private func convStep(_ l: Layer, inShape: (h: Int, w: Int, c: Int), outShape: (h: Int, w: Int, c: Int)) -> Step {
        var step = Step(kernel: .conv2dDirect, name: "", inputs: [], output: 0, inShape: inShape, outShape: outShape,
                        count: outShape.h * outShape.w * outShape.c)
        step.weights = UnsafePointer(l.weights)
        step.bias = UnsafePointer(l.bias)
        step.paddedOut = (outShape.c + 7) / 8 * 8
        let k = l.spec.kind == .dense ? 1 : l.spec.kernel, stride = l.spec.kind == .dense ? 1 : l.spec.stride
        step.kernelH = k; step.kernelW = k; step.strideH = stride; step.strideW = stride
        return step
    }

    /// Keras' PReLU, `relu(x) + (−α)·relu(−x)`: x when positive, else α·x
    /// (bit for bit the same), with `slopes` the per-channel α laid along the data.
    @inline(__always)
    static func prelu(_ p: UnsafeMutablePointer<Float>, count: Int, slopes: UnsafePointer<Float>) {
        typealias F8 = SIMD8<Float>
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: F8.self), a = UnsafeRawPointer(slopes + i).loadUnaligned(as: F8.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: v.replacing(with: a * v, where: v .<= 0), as: F8.self)
            i += 8
        }
        while i < count {
            let v = p[i]
            p[i] = v > 0 ? v : slopes[i] * v
            i += 1
        }
    }
}
