import FacecFormat
import FacecImage
import FacecRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Turns photos into the network's input tensors with the preprocessing
/// recorded in the model, and (FaceEmbedding.swift) into embeddings per face.
public struct Embedder: Sendable {
    public let model: Model
    /// Decode JPEGs with DCT downscaling to no less than this many times the
    /// model's input size (nil: full size). Decoding dominates for large
    /// photos; the scaled image is still far larger than the input.
    public var decodeScaleFactor: Int?

    public init(model: Model, decodeScaleFactor: Int? = nil) {
        self.model = model
        self.decodeScaleFactor = decodeScaleFactor
    }

    public var preprocessSpec: PreprocessSpec {
        let i = model.header.input
        return PreprocessSpec(height: i.height, width: i.width, colorOrder: i.colorOrder == .rgb ? .rgb : .bgr,
                              scale: i.scale, mean: i.mean, resize: i.resize == .keepAspectPad ? .keepAspectPad : .stretch,
                              truncateToUInt8: i.truncateToUInt8, postScale: i.postScale)
    }

    /// The network input for a face crop (or a whole photo), as deepface
    /// prepares it: its `/255` is skipped when the crop's largest value is at
    /// most 1 (`if img.max() > 1`), so an all-black or near-black crop keeps
    /// its raw values.
    public func inputTensor(forCrop image: DecodedImage) -> [Float] {
        var spec = preprocessSpec
        if spec.scale != 1, !image.pixels.contains(where: { $0 > 1 }) { spec.scale = 1 }
        return Preprocessor.tensor(from: image, spec: spec)
    }

    /// Decodes and preprocesses a JPEG into the model's input tensor.
    public func inputTensor(forImage path: String) throws -> [Float] {
        let i = model.header.input
        let image = try ImageDecoder.decodeFile(path, minimum: decodeScaleFactor.map { (i.width * $0, i.height * $0) })
        return Preprocessor.tensor(from: image, spec: preprocessSpec)
    }
}

