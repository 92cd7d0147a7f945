import FacecCore
import FacecFormat

/// mtcnn 1.0.0's P-, R- and O-Net (deepface's "mtcnn" backend) compiled into
/// a model file next to the recognition network: the Keras weight lists
/// (`get_weights` order) checked against the architecture
/// (`mtcnn/network/{pnet,rnet,onet}.py`) and laid out for the kernels.
///
/// What the compiler does to them, all exact rewrites:
/// - bias and PReLU fused into their convolution or dense layer;
/// - each network's heads (box offsets, landmarks, face logits) merged into
///   one last layer, their output channels side by side in that order, so
///   the runtime makes one pass instead of two or three; the softmax over
///   the two logits is the detector's;
/// - Keras' `Permute((2,1,3))` + `Flatten` (flat index (x·H + y)·C + c)
///   folded into the first dense layer's weight rows, so the runtime reads
///   its NHWC map as it lies ((y·W + x)·C + c).
public enum MTCNNCompiler {
    /// One network's arrays as the weight file lists them.
    public struct KerasArray {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }

    /// The layers of each network as mtcnn builds them.
    enum SourceLayer {
        case conv(kernel: Int, out: Int)          // kernel, bias, PReLU alpha [1, 1, out]
        case pool(kernel: Int, stride: Int, same: Bool)
        case flattenPermuted                       // Permute((2,1,3)) + Flatten
        case dense(out: Int)                       // kernel, bias, PReLU alpha [out]
        case heads(outs: [Int], dense: Bool)       // per head: kernel, bias
    }

    static let architectures: [(name: String, input: Int, layers: [SourceLayer])] = [
        ("pnet", 0, [.conv(kernel: 3, out: 10), .pool(kernel: 2, stride: 2, same: true), .conv(kernel: 3, out: 16),
                     .conv(kernel: 3, out: 32), .heads(outs: [4, 2], dense: false)]),
        ("rnet", 24, [.conv(kernel: 3, out: 28), .pool(kernel: 3, stride: 2, same: true), .conv(kernel: 3, out: 48),
                      .pool(kernel: 3, stride: 2, same: false), .conv(kernel: 2, out: 64), .flattenPermuted,
                      .dense(out: 128), .heads(outs: [4, 2], dense: true)]),
        ("onet", 48, [.conv(kernel: 3, out: 32), .pool(kernel: 3, stride: 2, same: true), .conv(kernel: 3, out: 64),
                      .pool(kernel: 3, stride: 2, same: false), .conv(kernel: 3, out: 64), .pool(kernel: 2, stride: 2, same: true),
                      .conv(kernel: 2, out: 128), .flattenPermuted, .dense(out: 256), .heads(outs: [4, 10, 2], dense: true)]),
    ]

    /// The networks' arrays (`pnet`, `rnet`, `onet`, each in the weight
    /// file's order) added to `model`'s tensors; the detector that runs them.
    /// `files` names each network's source in errors.
    public static func append(pnet: [KerasArray], rnet: [KerasArray], onet: [KerasArray], files: [String],
                              source: String, to model: inout CompiledModel) throws -> DetectorSpec {
        var nets: [MTCNNNet] = []
        for (i, arrays) in [pnet, rnet, onet].enumerated() {
            nets.append(try compile(architectures[i], arrays, file: files[i], into: &model))
        }
        let spec = DetectorSpec(mtcnn: MTCNNSpec(pnet: nets[0], rnet: nets[1], onet: nets[2]), source: source)
        if let p = spec.problem(tensors: model.header.tensors) {
            throw FacecError(.internal, files[0], "compiled MTCNN does not check: \(p)")
        }
        return spec
    }

    private static func compile(_ arch: (name: String, input: Int, layers: [SourceLayer]), _ arrays: [KerasArray], file: String,
                                into model: inout CompiledModel) throws -> MTCNNNet {
        var next = 0
        func take(_ shape: [Int], _ what: String) throws -> [Float] {
            guard next < arrays.count else {
                throw FacecError(.weights, file, "has \(arrays.count) arrays; mtcnn's \(arch.name) needs more (\(what) \(shape) is missing)")
            }
            let a = arrays[next]
            guard a.shape == shape, a.values.count == shape.reduce(1, *) else {
                throw FacecError(.weights, file, "array \(next + 1) (\(what)) has shape \(a.shape), mtcnn's \(arch.name) expects \(shape)")
            }
            next += 1
            return a.values
        }
        func tensor(_ name: String, _ shape: [Int], _ layout: TensorLayout, _ values: [Float]) -> Int {
            model.header.tensors.append(TensorEntry(name: "mtcnn/\(arch.name)/\(name)", shape: shape, layout: layout))
            model.producers.append { sink in try values.withUnsafeBufferPointer { try sink($0) } }
            return model.header.tensors.count - 1
        }
        var layers: [MTCNNLayer] = []
        var (h, w, c) = (arch.input == 0 ? 12 : arch.input, arch.input == 0 ? 12 : arch.input, 3)
        var permuted = false
        for (k, layer) in arch.layers.enumerated() {
            let name = "layer\(k + 1)"
            switch layer {
            case .conv(let kernel, let out):
                let weights = try take([kernel, kernel, c, out], "\(name) kernel")
                let bias = try take([out], "\(name) bias")
                let alpha = try take([1, 1, out], "\(name) PReLU alpha")
                layers.append(MTCNNLayer(kind: .conv, kernel: kernel, stride: 1, outChannels: out,
                                         weights: tensor(name + "/kernel", [kernel, kernel, c, pad8(out)], .hwioCoutPad8, padColumns(weights, out)),
                                         bias: tensor(name + "/bias", [pad8(out)], .vectorPad8, padColumns(bias, out)),
                                         alpha: tensor(name + "/prelu", [pad8(out)], .vectorPad8, padColumns(alpha, out))))
                (h, w, c) = (h - kernel + 1, w - kernel + 1, out)
            case .pool(let kernel, let stride, let same):
                let l = MTCNNLayer(kind: .maxPool, kernel: kernel, stride: stride, same: same)
                layers.append(l)
                (h, w) = (l.outputSize(h) ?? 0, l.outputSize(w) ?? 0)
            case .flattenPermuted:
                permuted = true
            case .dense(let out):
                let inCount = h * w * c
                var weights = try take([inCount, out], "\(name) kernel")
                if permuted { weights = unpermuteRows(weights, h: h, w: w, c: c, out: out); permuted = false }
                let bias = try take([out], "\(name) bias")
                let alpha = try take([out], "\(name) PReLU alpha")
                layers.append(MTCNNLayer(kind: .dense, outChannels: out,
                                         weights: tensor(name + "/kernel", [inCount, pad8(out)], .ioOutPad8, padColumns(weights, out)),
                                         bias: tensor(name + "/bias", [pad8(out)], .vectorPad8, padColumns(bias, out)),
                                         alpha: tensor(name + "/prelu", [pad8(out)], .vectorPad8, padColumns(alpha, out))))
                (h, w, c) = (1, 1, out)
            case .heads(let outs, let dense):
                let total = outs.reduce(0, +)
                var kernels: [[Float]] = [], biases: [Float] = []
                for (j, out) in outs.enumerated() {
                    kernels.append(try take(dense ? [c, out] : [1, 1, c, out], "\(name) head \(j + 1) kernel"))
                    biases += try take([out], "\(name) head \(j + 1) bias")
                }
                // Side by side: row r of the merged matrix is row r of each head.
                var merged = [Float](repeating: 0, count: c * total)
                var column = 0
                for (j, out) in outs.enumerated() {
                    for r in 0..<c { for o in 0..<out { merged[r * total + column + o] = kernels[j][r * out + o] } }
                    column += out
                }
                let weights = tensor(name + "/kernel", dense ? [c, pad8(total)] : [1, 1, c, pad8(total)],
                                     dense ? .ioOutPad8 : .hwioCoutPad8, padColumns(merged, total))
                layers.append(MTCNNLayer(kind: dense ? .dense : .conv, kernel: 1, stride: 1, outChannels: total, weights: weights,
                                         bias: tensor(name + "/bias", [pad8(total)], .vectorPad8, padColumns(biases, total))))
                c = total
            }
        }
        guard next == arrays.count else {
            throw FacecError(.weights, file, "has \(arrays.count) arrays; mtcnn's \(arch.name) has \(next)")
        }
        return MTCNNNet(name: arch.name, inputSize: arch.input, layers: layers)
    }

    static func pad8(_ n: Int) -> Int { (n + 7) / 8 * 8 }

    /// Rows of `columns` values, each padded with zeros to a multiple of 8.
    static func padColumns(_ values: [Float], _ columns: Int) -> [Float] {
        let padded = pad8(columns)
        guard padded != columns else { return values }
        var out = [Float](repeating: 0, count: values.count / columns * padded)
        for r in 0..<(values.count / columns) {
            for j in 0..<columns { out[r * padded + j] = values[r * columns + j] }
        }
        return out
    }

    /// Dense rows in Keras' Permute((2,1,3)) + Flatten order, (x·H + y)·C + c,
    /// reordered to the NHWC flatten, (y·W + x)·C + c.
    static func unpermuteRows(_ weights: [Float], h: Int, w: Int, c: Int, out: Int) -> [Float] {
        var result = [Float](repeating: 0, count: weights.count)
        for y in 0..<h {
            for x in 0..<w {
                for ch in 0..<c {
                    let to = ((y * w + x) * c + ch) * out, from = ((x * h + y) * c + ch) * out
                    for o in 0..<out { result[to + o] = weights[from + o] }
                }
            }
        }
        return result
    }
}
