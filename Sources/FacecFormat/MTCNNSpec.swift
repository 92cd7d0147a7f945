/// deepface's "mtcnn" detector as a model file carries it (format 1.4): PyPI
/// mtcnn 1.0.0's three networks, compiled (bias and PReLU fused into their
/// layer, each network's heads merged into one last layer, Keras' Permute +
/// Flatten folded into the dense weights' rows), their weights in the data
/// section, and the cascade's parameters.

/// One layer as the runtime runs it.
public struct MTCNNLayer: Sendable, Equatable {
    public enum Kind: Int, Sendable { case conv = 0, maxPool = 1, dense = 2 }
    public var kind: Kind
    /// Square windows.
    public var kernel: Int
    public var stride: Int
    /// Max pooling: TensorFlow SAME (output ceil(n / stride), the pad at the end).
    public var same: Bool
    /// Convolution and dense: output channels.
    public var outChannels: Int
    /// Tensor indices into the header's table, -1 when absent.
    public var weights: Int, bias: Int, alpha: Int

    public init(kind: Kind, kernel: Int = 1, stride: Int = 1, same: Bool = false, outChannels: Int = 0,
                weights: Int = -1, bias: Int = -1, alpha: Int = -1) {
        self.kind = kind; self.kernel = kernel; self.stride = stride; self.same = same
        self.outChannels = outChannels; self.weights = weights; self.bias = bias; self.alpha = alpha
    }

    /// The output size along one axis for an input of `n`, or nil when the
    /// window does not fit.
    public func outputSize(_ n: Int) -> Int? {
        if kind == .dense { return 1 }
        if kind == .maxPool && same {
            let out = (n + stride - 1) / stride
            return n >= 1 ? out : nil
        }
        return n >= kernel ? (n - kernel) / stride + 1 : nil
    }

    /// Max pooling SAME: the padding after the input (TensorFlow puts the
    /// odd pixel at the end; these windows never need one before).
    public func padAfter(_ n: Int) -> Int {
        guard kind == .maxPool && same, let out = outputSize(n) else { return 0 }
        let total = max(0, (out - 1) * stride + kernel - n)
        return total - total / 2
    }

    public func padBefore(_ n: Int) -> Int {
        guard kind == .maxPool && same, let out = outputSize(n) else { return 0 }
        return max(0, (out - 1) * stride + kernel - n) / 2
    }
}

/// One network: layers in order; the last one's channels are the heads side
/// by side (box offsets 4, for the O-Net landmarks 10, then the two
/// face/no-face logits).
public struct MTCNNNet: Sendable, Equatable {
    public var name: String
    /// 0 for the fully convolutional P-Net, else the square crop size.
    public var inputSize: Int
    public var layers: [MTCNNLayer]
    public init(name: String, inputSize: Int, layers: [MTCNNLayer]) {
        self.name = name; self.inputSize = inputSize; self.layers = layers
    }

    /// The output (h, w, c) for an input of h × w × 3, or nil when a window
    /// does not fit.
    public func outputShape(height: Int, width: Int) -> (h: Int, w: Int, c: Int)? {
        var (h, w, c) = (height, width, 3)
        for l in layers {
            guard let oh = l.outputSize(h), let ow = l.outputSize(w) else { return nil }
            (h, w) = (oh, ow)
            if l.kind != .maxPool { c = l.outChannels }
        }
        return (h, w, c)
    }
}

public struct MTCNNSpec: Sendable, Equatable {
    public var pnet: MTCNNNet, rnet: MTCNNNet, onet: MTCNNNet
    /// mtcnn 1.0.0's defaults: 20, 0.709, (0.6, 0.7, 0.8).
    public var minFaceSize: Double
    public var scaleFactor: Double
    public var thresholds: [Double]

    public init(pnet: MTCNNNet, rnet: MTCNNNet, onet: MTCNNNet, minFaceSize: Double = 20, scaleFactor: Double = 0.709,
                thresholds: [Double] = [0.6, 0.7, 0.8]) {
        self.pnet = pnet; self.rnet = rnet; self.onet = onet
        self.minFaceSize = minFaceSize; self.scaleFactor = scaleFactor; self.thresholds = thresholds
    }

    public var nets: [MTCNNNet] { [pnet, rnet, onet] }

    /// Bounds that keep the runtime's work and memory in proportion to the
    /// photo whatever the file says.
    public static let maxLayers = 32, maxChannels = 256, maxKernel = 7, maxStride = 4, maxInputSize = 64

    /// Why the detector cannot be run, or nil. With `tensors`, every layer's
    /// weights are checked against the layout the runtime reads.
    public func problem(tensors: [TensorEntry]?) -> String? {
        guard minFaceSize.isFinite, (12...4096).contains(minFaceSize) else { return "MTCNN minimum face size \(minFaceSize) outside 12…4096" }
        guard scaleFactor.isFinite, (0.5...0.9).contains(scaleFactor) else { return "MTCNN scale factor \(scaleFactor) outside 0.5…0.9" }
        guard thresholds.count == 3, thresholds.allSatisfy({ $0.isFinite && (0...1).contains($0) }) else {
            return "MTCNN needs three thresholds in 0…1"
        }
        let expected: [(String, Int, Int)] = [("pnet", 0, 6), ("rnet", 24, 6), ("onet", 48, 16)]
        for (net, (name, size, heads)) in zip(nets, expected) {
            guard net.name == name, net.inputSize == size else {
                return "MTCNN network '\(net.name)' (input \(net.inputSize)) where \(name) (input \(size)) was expected"
            }
            if let p = problem(net, heads: heads, tensors: tensors) { return "MTCNN \(name): \(p)" }
        }
        return nil
    }

    private func problem(_ net: MTCNNNet, heads: Int, tensors: [TensorEntry]?) -> String? {
        guard !net.layers.isEmpty, net.layers.count <= Self.maxLayers else { return "\(net.layers.count) layers" }
        // The P-Net is checked at its smallest input, a 12-pixel cell.
        let size = net.inputSize == 0 ? 12 : net.inputSize
        var (h, w, c) = (size, size, 3)
        for (i, l) in net.layers.enumerated() {
            let at = "layer \(i + 1)"
            guard (1...Self.maxKernel).contains(l.kernel), (1...Self.maxStride).contains(l.stride) else {
                return "\(at): kernel \(l.kernel), stride \(l.stride)"
            }
            guard let oh = l.outputSize(h), let ow = l.outputSize(w) else { return "\(at): a \(l.kernel)×\(l.kernel) window on a \(h)×\(w) map" }
            switch l.kind {
            case .maxPool:
                guard l.weights < 0, l.bias < 0, l.alpha < 0 else { return "\(at): pooling with weights" }
                guard l.padAfter(h) < l.kernel, l.padAfter(w) < l.kernel else { return "\(at): padding as large as the window" }
            case .conv, .dense:
                guard (1...Self.maxChannels).contains(l.outChannels) else { return "\(at): \(l.outChannels) output channels" }
                if l.kind == .dense && net.inputSize == 0 { return "\(at): a dense layer in the fully convolutional P-Net" }
                let padded = (l.outChannels + 7) / 8 * 8
                let inCount = l.kind == .dense ? h * w * c : c
                let shape = l.kind == .dense ? [inCount, padded] : [l.kernel, l.kernel, c, padded]
                guard l.kind == .conv || l.kernel == 1 && l.stride == 1 else { return "\(at): a dense layer with a window" }
                if let tensors {
                    if let p = Self.check(l.weights, tensors, shape: shape, layout: l.kind == .dense ? .ioOutPad8 : .hwioCoutPad8) { return "\(at) weights: \(p)" }
                    if let p = Self.check(l.bias, tensors, shape: [padded], layout: .vectorPad8) { return "\(at) bias: \(p)" }
                    if l.alpha >= 0, let p = Self.check(l.alpha, tensors, shape: [padded], layout: .vectorPad8) { return "\(at) PReLU: \(p)" }
                }
                c = l.outChannels
            }
            (h, w) = (oh, ow)
        }
        guard h == 1, w == 1, c == heads else { return "ends in \(h)×\(w)×\(c) for a \(size)-pixel input, expected 1×1×\(heads)" }
        return nil
    }

    private static func check(_ index: Int, _ tensors: [TensorEntry], shape: [Int], layout: TensorLayout) -> String? {
        guard index >= 0, index < tensors.count else { return "tensor \(index) of \(tensors.count)" }
        let t = tensors[index]
        guard t.shape == shape, t.layout == layout, t.elementType == .f32 else {
            return "'\(t.name)' is \(t.shape) (\(t.layout.rawValue), \(t.elementType.rawValue)), expected \(shape) (\(layout.rawValue), f32)"
        }
        return nil
    }
}
