import FacecCore
/// The compiled plan as stored in the .fgraph header: tensors in the data
/// section, activation values in the arena, nodes in execution order.
/// Built by the compiler (FacecGraph), read by the runtime (FacecRuntime).

public enum Kernel: String, Sendable, CaseIterable {
    case conv2dDirect = "conv2d_direct"
    case maxPool = "maxpool"
    case avgPool = "avgpool"
    case dense
    case add
    case softmax
    case zeroPad = "zero_pad"
    case relu
    case conv2dWinogradF43 = "conv2d_winograd_f43"
}

public enum Activation: String, Sendable { case none, relu }

public enum TensorLayout: String, Sendable {
    case plain
    /// Conv weights [KH, KW, Cin, CoutPad8]: output channels fastest, padded
    /// with zeros to a multiple of 8 so the kernel reads whole SIMD8 vectors.
    case hwioCoutPad8 = "hwio_cout_pad8"
    /// Dense weights [In, OutPad8].
    case ioOutPad8 = "io_out_pad8"
    /// Bias vectors padded to a multiple of 8.
    case vectorPad8 = "vector_pad8"
    /// Winograd F(4×4, 3×3) kernels U = G g Gᵀ: [36, CinPad8, CoutPad8] in
    /// output-channel chunks of 64. Written by earlier versions; the runtime
    /// refuses it (the kernels read 32-channel chunks).
    case winogradF43 = "winograd_f43"
    /// Winograd F(4×4, 3×3) kernels U = G g Gᵀ: [36, CinPad8, CoutPad8] in
    /// output-channel chunks of 32, each [CinPad8][≤32] contiguous.
    case winogradF43C32 = "winograd_f43_c32"
    /// Direct-convolution weights for small maps (`PatchConv`, 1.3):
    /// [CoutPad16/16, KH·KW·Cin, 16], each 16-channel block contiguous, so a
    /// block streams instead of striding CoutPad8 floats per row (a stride
    /// of 1 KB maps every row to the same few cache sets).
    case hwioCoutBlock16 = "hwio_cout_block16"

    /// Whether a direct convolution with this output map runs as `PatchConv`
    /// (im2col patches, 16-channel blocks) and so has its weights blocked:
    /// maps narrower than a 6-pixel tile, of at most 64 pixels, or strided
    /// ones of at most 300 (measured on dlib's ResNet, Zen 2: 8×8 maps 75
    /// GFLOP/s against 0.33 ms in Winograd, its 35×35 → 17×17 stride-2
    /// 0.23 → 0.16 ms; VGG's 14×14 stride-1 maps keep the row kernels).
    public static func blockedMap(height: Int, width: Int, strided: Bool) -> Bool {
        height > 1 && (width < 6 || height * width <= 64 || (strided && height * width <= 300))
    }
}

/// How a tensor's elements are stored (format 1.2; float32 before).
public enum ElementType: String, Sendable, CaseIterable {
    case f32, f16
    /// Symmetric per output channel: value = q × scale[channel], q in -127...127;
    /// the scales are the node's third parameter.
    case i8

    public var byteSize: Int {
        switch self {
        case .f32: return 4
        case .f16: return 2
        case .i8: return 1
        }
    }
}

/// The weight precision asked of `facec convert --weights` (format 1.2).
public enum WeightPrecision: String, Sendable, CaseIterable {
    case f32, f16, int8
}

public struct TensorEntry: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var layout: TensorLayout
    public var elementType: ElementType
    /// Offset from the start of the data section; a multiple of `dataAlignment`.
    public var offset: Int
    public var length: Int
    public init(name: String, shape: [Int], layout: TensorLayout, elementType: ElementType = .f32, offset: Int = 0, length: Int = 0) {
        self.name = name; self.shape = shape; self.layout = layout; self.elementType = elementType
        self.offset = offset; self.length = length
    }
    public var elementCount: Int { shape.reduce(1, *) }
}

public struct ValueEntry: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var arenaOffset: Int
    public var arenaBytes: Int
    public var isView: Bool
    public init(name: String, shape: [Int], arenaOffset: Int = 0, arenaBytes: Int = 0, isView: Bool = false) {
        self.name = name; self.shape = shape; self.arenaOffset = arenaOffset
        self.arenaBytes = arenaBytes; self.isView = isView
    }
    public var elementCount: Int { shape.reduce(1, *) }
}

public struct NodeEntry: Sendable, Equatable {
    public var name: String
    public var kernel: Kernel
    public var inputs: [Int]
    public var output: Int
    public var params: [Int]
    public var activation: Activation
    public var kernelH = 0, kernelW = 0
    public var strideH = 1, strideW = 1
    public var padTop = 0, padBottom = 0, padLeft = 0, padRight = 0
    public var fused: [String]
    public var flops: Int
    /// Relative RMS error of the stored weights against float32 (format 1.2).
    public var weightError: Float = 0

    public init(name: String, kernel: Kernel, inputs: [Int], output: Int, params: [Int] = [],
                activation: Activation = .none, fused: [String] = [], flops: Int = 0) {
        self.name = name; self.kernel = kernel; self.inputs = inputs; self.output = output
        self.params = params; self.activation = activation; self.fused = fused; self.flops = flops
    }
}

public struct ModelHeader: Sendable, Equatable {
    public var modelName: String
    public var input: InputSpec
    public var output: OutputSpec
    public var defaultMetric: Metric
    public var thresholds: [Metric: Float]
    public var provenance: Provenance
    public var tensors: [TensorEntry]
    public var values: [ValueEntry]
    public var nodes: [NodeEntry]
    public var inputValue: Int
    public var outputValue: Int
    public var arenaBytes: Int
    public var activationsTotalBytes: Int
    public var classNames: [String]
    /// The softmax value giving class probabilities, when the model has classes.
    public var classesValue: Int?
    /// The face detector run before the network (format 1.1), if the model carries one.
    public var detector: DetectorSpec?
    /// What `convert --weights` asked for (format 1.2); each tensor says what it got.
    public var weightPrecision: WeightPrecision = .f32

    public init(modelName: String, input: InputSpec, output: OutputSpec, defaultMetric: Metric,
                thresholds: [Metric: Float], provenance: Provenance, tensors: [TensorEntry],
                values: [ValueEntry], nodes: [NodeEntry], inputValue: Int, outputValue: Int,
                arenaBytes: Int, activationsTotalBytes: Int, classNames: [String] = [],
                classesValue: Int? = nil, detector: DetectorSpec? = nil) {
        self.modelName = modelName; self.input = input; self.output = output
        self.defaultMetric = defaultMetric; self.thresholds = thresholds
        self.provenance = provenance; self.tensors = tensors; self.values = values
        self.nodes = nodes; self.inputValue = inputValue; self.outputValue = outputValue
        self.arenaBytes = arenaBytes; self.activationsTotalBytes = activationsTotalBytes
        self.classNames = classNames; self.classesValue = classesValue; self.detector = detector
    }

    /// Saturating: the loader bounds each node's count, not their sum.
    public var totalFlops: Int {
        nodes.reduce(0) { total, n in
            let (sum, overflow) = total.addingReportingOverflow(n.flops)
            return overflow ? Int.max : sum
        }
    }
    public var weightBytes: Int { tensors.reduce(0) { $0 + $1.length } }
}
