import FacecCore
import FacecFormat
import FacecGraph

/// Which VGG-Face output is the embedding (`facec convert --embedding`).
public enum VGGDescriptor: String, CaseIterable, Sendable {
    /// 4096-d after ReLU, L2-normalised: deepface since 2024 (thresholds 0.68 / 1.17 / 1.17).
    case fc7
    /// 2622-d before softmax: the original blog's descriptor and deepface's
    /// before commit 19f057a (thresholds 0.40 / 0.60 / 0.86).
    case fc8

    var l2Normalize: Bool { self == .fc7 }

    var thresholds: [Metric: Float] {
        switch self {
        case .fc7: return [.cosine: 0.68, .euclidean: 1.17, .euclideanL2: 1.17]
        case .fc8: return [.cosine: 0.40, .euclidean: 0.60, .euclideanL2: 0.86]
        }
    }
}

/// deepface's input normalisations for the Keras VGG-Face (`--normalization`).
public enum DeepfaceNormalization: String, CaseIterable, Sendable {
    /// BGR in [0, 1] (deepface's default, "base").
    case base
    /// ×255 minus the Caffe BGR mean [93.5940, 104.7624, 129.1863].
    case vggface

    func inputSpec(height: Int, width: Int) -> InputSpec {
        var spec = deepfaceInput(height: height, width: width)
        if self == .vggface {
            spec.scale = 1
            spec.mean = [93.5940, 104.7624, 129.1863]
            spec.note = "deepface VGGFace normalisation: BGR, 0..255 minus the Caffe BGR mean, resize keeping aspect + zero padding"
        }
        return spec
    }
}

/// deepface's VGG-Face (VGGFace.py `base_model()`), built in for weights-only
/// Keras files: 13 × [ZeroPadding2D(1), Conv2D 3×3 + ReLU] in blocks of
/// 2, 2, 3, 3, 3 each closed by a 2×2/2 max-pool, then fc6 (7×7 conv + ReLU),
/// fc7 (1×1 conv + ReLU), fc8 (1×1 conv), flatten, softmax. Channel widths come
/// from the file, so reduced-width files convert too.
enum VGGFaceArchitecture {
    static let name = "vggface"
    static let blocks = [2, 2, 3, 3, 3]
    static let convNames = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                            "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]

    /// 16 weighted layers: 13 chained 3×3 convs from 3 channels, a 7×7, two 1×1.
    static func mismatch(_ layers: [KerasLayerWeights]) -> String? {
        guard layers.count == 16 else { return "VGG-Face has 16 weighted layers, the file has \(layers.count)" }
        var channels = 3
        for (i, l) in layers.enumerated() {
            let k = l.shapes.first ?? []
            let (kh, name) = i < 13 ? (3, convNames[i]) : i == 13 ? (7, "fc6") : (1, i == 14 ? "fc7" : "fc8")
            guard k.count == 4, k[0] == kh, k[1] == kh, k[2] == channels, l.shapes.count == 2, l.shapes[1] == [k[3]] else {
                return "layer '\(l.layerName)' (weighted layer \(i + 1), VGG-Face's \(name)): expected a \(kh)×\(kh) kernel [\(kh), \(kh), \(channels), C] + bias [C], found \(l.shapes)"
            }
            channels = k[3]
        }
        return nil
    }

    static func build(_ layers: [KerasLayerWeights], path: String, descriptor: VGGDescriptor) throws -> (Graph, output: Int, softmax: Int) {
        if let problem = mismatch(layers) { throw FacecError(.weights, path, problem) }
        var g = Graph()
        var last = g.add("input", .input(height: 224, width: 224, channels: 3), [])
        var index = 0
        for (b, count) in blocks.enumerated() {
            for _ in 0..<count {
                let name = convNames[index]
                let pad = g.add("pad_" + name, .zeroPad(top: 1, bottom: 1, left: 1, right: 1), [last])
                let filters = layers[index].shapes[0][3]
                last = g.add(name, .conv2d(Conv2DAttributes(filters: filters, kernelH: 3, kernelW: 3, activation: .relu)),
                             [pad], weights: layers[index].tensors)
                index += 1
            }
            last = g.add("pool\(b + 1)", .maxPool(PoolAttributes(poolH: 2, poolW: 2, strideH: 2, strideW: 2)), [last])
        }
        func conv(_ name: String, _ k: Int, _ i: Int, _ act: ActivationKind, _ input: Int) -> Int {
            g.add(name, .conv2d(Conv2DAttributes(filters: layers[i].shapes[0][3], kernelH: k, kernelW: k, activation: act)),
                  [input], weights: layers[i].tensors)
        }
        let fc6 = conv("fc6", 7, 13, .relu, last)
        let d6 = g.add("dropout6", .dropout, [fc6])
        let fc7 = conv("fc7", 1, 14, .relu, d6)
        let d7 = g.add("dropout7", .dropout, [fc7])
        let fc8 = conv("fc8", 1, 15, .linear, d7)
        let flat = g.add("flatten", .flatten, [fc8])
        let softmax = g.add("softmax", .activation(.softmax), [flat])
        return (g, descriptor == .fc7 ? fc7 : flat, softmax)
    }
}
