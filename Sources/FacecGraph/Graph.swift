import FacecCore
import FacecFormat

/// The importers' output: layers as the source framework describes them
/// (Keras / MatConvNet semantics), before any fusion or layout decisions.

/// A weight tensor whose values are read only when the compiler lays it out,
/// so a converter can stream a large model layer by layer.
public struct WeightTensor {
    public var name: String
    /// Row-major (C order) shape, e.g. HWIO for convolution kernels.
    public var shape: [Int]
    /// Yields all values in row-major order, in chunks of whole rows of the
    /// last axis (a source may transpose chunk by chunk).
    public var stream: (ModelWriter.TensorSink) throws -> Void
    /// Called once the writer has streamed the tensor for the last time, so
    /// a source can drop its copy (the compiler may stream a tensor more than
    /// once before: the quantiser measures the weights first).
    public var release: () -> Void = {}

    public init(name: String, shape: [Int], stream: @escaping (ModelWriter.TensorSink) throws -> Void) {
        self.name = name; self.shape = shape; self.stream = stream
    }

    public init(name: String, shape: [Int], load: @escaping () throws -> [Float]) {
        self.init(name: name, shape: shape) { sink in
            let values = try load()
            try values.withUnsafeBufferPointer { try sink($0) }
        }
    }

    /// All values at once (small tensors such as biases).
    public func load() throws -> [Float] {
        var all: [Float] = []
        all.reserveCapacity(shape.reduce(1, *))
        try stream { all.append(contentsOf: $0) }
        guard all.count == shape.reduce(1, *) else {
            throw FacecError(.graph, "layer '\(name)'", "has \(all.count) values for shape \(shape)")
        }
        return all
    }
    public init(name: String, shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *))
        self.init(name: name, shape: shape, load: { values })
    }
}

public enum Padding: Equatable, Sendable {
    case valid
    /// TensorFlow SAME: output = ceil(input / stride), the extra pixel goes
    /// bottom/right.
    case same
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
}

public enum ActivationKind: String, Equatable, Sendable { case linear, relu, softmax }

public struct Conv2DAttributes: Equatable, Sendable {
    public var filters: Int
    public var kernelH: Int, kernelW: Int
    public var strideH: Int = 1, strideW: Int = 1
    public var padding: Padding = .valid
    public var activation: ActivationKind = .linear
    public var useBias = true
    public init(filters: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                padding: Padding = .valid, activation: ActivationKind = .linear, useBias: Bool = true) {
        self.filters = filters; self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW; self.padding = padding
        self.activation = activation; self.useBias = useBias
    }
}

public struct PoolAttributes: Equatable, Sendable {
    public var poolH: Int, poolW: Int
    public var strideH: Int, strideW: Int
    public var padding: Padding = .valid
    public init(poolH: Int, poolW: Int, strideH: Int, strideW: Int, padding: Padding = .valid) {
        self.poolH = poolH; self.poolW = poolW; self.strideH = strideH; self.strideW = strideW
        self.padding = padding
    }
}

public enum LayerOp: Equatable, Sendable {
    case input(height: Int, width: Int, channels: Int)
    /// weights: kernel [KH, KW, Cin, Cout] (HWIO, cross-correlation), bias [Cout]
    case conv2d(Conv2DAttributes)
    /// weights: kernel [In, Out], bias [Out]
    case dense(units: Int, activation: ActivationKind, useBias: Bool)
    case maxPool(PoolAttributes)
    case avgPool(PoolAttributes)
    case zeroPad(top: Int, bottom: Int, left: Int, right: Int)
    /// Row-major flatten of NHWC data (h, w, c; c fastest), as Keras does.
    case flatten
    case dropout
    case activation(ActivationKind)
    case add
    /// dlib's add_prev: inputs of different shapes are zero-extended to the
    /// largest size in each dimension (aligned at the top-left, first channels).
    case zeroExtendedAdd
}

public struct Layer {
    public var name: String
    public var op: LayerOp
    /// Indices of the layers feeding this one.
    public var inputs: [Int]
    /// kernel then bias, for conv2d and dense.
    public var weights: [WeightTensor]
    public init(name: String, op: LayerOp, inputs: [Int], weights: [WeightTensor] = []) {
        self.name = name; self.op = op; self.inputs = inputs; self.weights = weights
    }
}

public struct Graph {
    public var layers: [Layer] = []
    public init(layers: [Layer] = []) { self.layers = layers }

    @discardableResult
    public mutating func add(_ name: String, _ op: LayerOp, _ inputs: [Int], weights: [WeightTensor] = []) -> Int {
        layers.append(Layer(name: name, op: op, inputs: inputs, weights: weights))
        return layers.count - 1
    }

    public func index(of name: String) -> Int? { layers.firstIndex { $0.name == name } }
}

/// Everything about the model that is not the network itself.
public struct ModelDescription {
    public var name: String
    public var input: InputSpec
    /// The layer whose output is the embedding.
    public var outputLayer: Int
    public var l2Normalize: Bool
    public var defaultMetric: Metric
    public var thresholds: [Metric: Float]
    public var provenance: Provenance
    public var classNames: [String] = []
    /// The softmax layer giving class probabilities (compiled only with class names).
    public var classesLayer: Int? = nil
    /// The embedding's name (default: the output layer's name).
    public var outputName: String? = nil

    public init(name: String, input: InputSpec, outputLayer: Int, l2Normalize: Bool,
                defaultMetric: Metric, thresholds: [Metric: Float], provenance: Provenance,
                classNames: [String] = [], classesLayer: Int? = nil) {
        self.name = name; self.input = input; self.outputLayer = outputLayer
        self.l2Normalize = l2Normalize; self.defaultMetric = defaultMetric
        self.thresholds = thresholds; self.provenance = provenance
        self.classNames = classNames; self.classesLayer = classesLayer
    }
}


