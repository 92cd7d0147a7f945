import FacecCore
/// What a model expects as input and gives as output, recorded in the .fgraph
/// header so the runtime needs no per-model code.

public struct InputSpec: Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var colorOrder: ColorOrder
    /// Pixel values 0...255 are multiplied by this first…
    public var scale: Float
    /// …then this is subtracted per channel (in the model's channel order).
    public var mean: [Float]
    public var resize: ResizePolicy
    public var note: String
    /// After the resize, each value ×255 in float32 and truncated to an
    /// integer (deepface's Dlib client: `img * 255` then `astype(np.uint8)`)…
    public var truncateToUInt8: Bool
    /// …then multiplied by this before the mean is subtracted (dlib's 1/256).
    public var postScale: Float

    public init(height: Int, width: Int, channels: Int = 3, colorOrder: ColorOrder,
                scale: Float, mean: [Float] = [], resize: ResizePolicy, note: String = "",
                truncateToUInt8: Bool = false, postScale: Float = 1) {
        self.height = height; self.width = width; self.channels = channels
        self.colorOrder = colorOrder; self.scale = scale; self.mean = mean
        self.resize = resize; self.note = note
        self.truncateToUInt8 = truncateToUInt8; self.postScale = postScale
    }
}

public struct OutputSpec: Sendable, Equatable {
    public var name: String
    public var dim: Int
    /// deepface's `x / (‖x‖ + 1e-10)` applied after the network.
    public var l2Normalize: Bool
    public init(name: String, dim: Int, l2Normalize: Bool) {
        self.name = name; self.dim = dim; self.l2Normalize = l2Normalize
    }
}

public struct Provenance: Sendable, Equatable {
    public var sourceFile: String
    public var sourceSHA256: [UInt8]
    public var sourceFormat: String
    public var architecture: String
    public var converterVersion: String
    public init(sourceFile: String, sourceSHA256: [UInt8], sourceFormat: String,
                architecture: String, converterVersion: String) {
        self.sourceFile = sourceFile; self.sourceSHA256 = sourceSHA256
        self.sourceFormat = sourceFormat; self.architecture = architecture
        self.converterVersion = converterVersion
    }
}

/// The facec version written into every model's provenance.
public let facecVersion = "0.1.0"
