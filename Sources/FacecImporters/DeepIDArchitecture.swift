import FacecCore
import FacecFormat
import FacecGraph

/// deepface's DeepID (deepface/models/facial_recognition/DeepID.py), built in
/// so that weights-only files (`deepid_keras_weights.h5`) convert: input
/// H=55 W=47, four valid convs with ReLU, max-pools 2/2, dropout, two dense
/// heads on NHWC flattens, ReLU(fc11 + fc12) = 160-d.
enum DeepIDArchitecture {
    static let name = "deepid"

    /// The weighted layers in Keras order with their expected shapes.
    static let expected: [(name: String, kernel: [Int])] = [
        ("Conv1", [4, 4, 3, 20]), ("Conv2", [3, 3, 20, 40]), ("Conv3", [3, 3, 40, 60]),
        ("Conv4", [2, 2, 60, 80]), ("fc11", [1200, 160]), ("fc12", [960, 160]),
    ]

    static func matches(_ layers: [KerasLayerWeights]) -> Bool {
        layers.count == expected.count && zip(layers, expected).allSatisfy { l, e in
            l.shapes == [e.kernel, [e.kernel.last!]]
        }
    }

    /// Pairs the file's weighted layers with the architecture by order, as
    /// Keras does; every shape is checked.
    static func build(_ layers: [KerasLayerWeights], path: String) throws -> (Graph, outputLayer: Int) {
        guard layers.count == expected.count else {
            throw FacecError(.weights, path, "DeepID has \(expected.count) weighted layers, the file has \(layers.count) (\(layers.map(\.layerName).joined(separator: ", ")))")
        }
        for (i, (l, e)) in zip(layers, expected).enumerated() {
            let want = [e.kernel, [e.kernel.last!]]
            guard l.shapes == want else {
                throw FacecError(.weights, path, "layer '\(l.layerName)' (weighted layer \(i + 1), DeepID's \(e.name)): expected shapes \(describe(want)), found \(describe(l.shapes))")
            }
        }
        func conv(_ filters: Int, _ k: Int) -> LayerOp {
            .conv2d(Conv2DAttributes(filters: filters, kernelH: k, kernelW: k, activation: .relu))
        }
        let pool = LayerOp.maxPool(PoolAttributes(poolH: 2, poolW: 2, strideH: 2, strideW: 2))
        var g = Graph()
        let input = g.add("input_1", .input(height: 55, width: 47, channels: 3), [])
        let c1 = g.add("Conv1", conv(20, 4), [input], weights: layers[0].tensors)
        let p1 = g.add("Pool1", pool, [c1])
        let d1 = g.add("D1", .dropout, [p1])
        let c2 = g.add("Conv2", conv(40, 3), [d1], weights: layers[1].tensors)
        let p2 = g.add("Pool2", pool, [c2])
        let d2 = g.add("D2", .dropout, [p2])
        let c3 = g.add("Conv3", conv(60, 3), [d2], weights: layers[2].tensors)
        let p3 = g.add("Pool3", pool, [c3])
        let d3 = g.add("D3", .dropout, [p3])
        let c4 = g.add("Conv4", conv(80, 2), [d3], weights: layers[3].tensors)
        let f1 = g.add("flatten_1", .flatten, [d3])
        let f2 = g.add("flatten_2", .flatten, [c4])
        let fc11 = g.add("fc11", .dense(units: 160, activation: .linear, useBias: true), [f1], weights: layers[4].tensors)
        let fc12 = g.add("fc12", .dense(units: 160, activation: .linear, useBias: true), [f2], weights: layers[5].tensors)
        let sum = g.add("add_1", .add, [fc11, fc12])
        let out = g.add("deepid", .activation(.relu), [sum])
        return (g, out)
    }

    /// deepface's input handling and thresholds for DeepID (formats.md §3).
    static func describe(outputLayer: Int, provenance: Provenance) -> ModelDescription {
        ModelDescription(
            name: "DeepID",
            input: deepfaceInput(height: 55, width: 47),
            outputLayer: outputLayer, l2Normalize: false, defaultMetric: .cosine,
            thresholds: [.cosine: 0.015, .euclidean: 45, .euclideanL2: 0.17],
            provenance: provenance)
    }

    private static func describe(_ shapes: [[Int]]) -> String {
        shapes.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: " + ")
    }
}

/// deepface's default input for a model: BGR, /255, aspect-preserving resize
/// with split zero padding, no mean ("base" normalisation).
func deepfaceInput(height: Int, width: Int) -> InputSpec {
    InputSpec(height: height, width: width, channels: 3, colorOrder: .bgr, scale: 1 / 255, mean: [],
              resize: .keepAspectPad, note: "deepface: BGR, /255, resize keeping aspect + zero padding, base normalisation")
}
