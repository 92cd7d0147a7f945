import FacecDigest
import FacecHDF5
import FacecCore
import FacecFormat
import FacecGraph

/// Entry point for Keras `.h5` files: legacy weights-only files (paired by
/// order with a built-in architecture), full-model files (architecture from
/// `model_config`), and a clear refusal of Keras 3 `.weights.h5`.
public enum KerasImporter {
    public static let builtInArchitectures = [DeepIDArchitecture.name, VGGFaceArchitecture.name]

    public static func load(path: String, architecture: String? = nil, options: ImportOptions = ImportOptions()) throws -> (Graph, ModelDescription) {
        if let a = architecture, !builtInArchitectures.contains(a) {
            throw FacecError(.weights, path, "unknown architecture '\(a)' (built in: \(builtInArchitectures.joined(separator: ", ")))")
        }
        let file = try HDF5File(path: path)
        let digest = try SHA256.hexDigestBytes(ofFile: path)
        func provenance(_ format: String, _ arch: String) -> Provenance {
            Provenance(sourceFile: baseName(path), sourceSHA256: digest, sourceFormat: format,
                       architecture: arch, converterVersion: "facec \(facecVersion)")
        }

        if let config = try file.strings("/", attribute: "model_config")?.first {
            guard try file.isGroup("/model_weights") else {
                throw FacecError(.weights, path, "full-model file without a 'model_weights' group (saved with include_optimizer only?)")
            }
            let (_, weighted) = try KerasWeightReader.read(file, root: "/model_weights")
            let isDeepID = DeepIDArchitecture.matches(weighted)
            if architecture == DeepIDArchitecture.name {
                let (g, out) = try DeepIDArchitecture.build(weighted, path: path)
                return (g, DeepIDArchitecture.describe(outputLayer: out, provenance: provenance("keras-h5-model", "deepid (built in)")))
            }
            let reader = KerasModelConfig(path: path, weights: Dictionary(weighted.map { ($0.layerName, $0) }, uniquingKeysWith: { a, _ in a }))
            let (g, out, name) = try reader.graph(from: config)
            if isDeepID {
                // Same network as deepface's DeepID: take its input handling and thresholds.
                var d = DeepIDArchitecture.describe(outputLayer: out, provenance: provenance("keras-h5-model", "model_config (DeepID layout)"))
                d.name = "DeepID"
                return (g, d)
            }
            return (g, genericDescription(g, name: name, output: out, provenance: provenance("keras-h5-model", "model_config")))
        }

        let hasLayerNames = try file.strings("/", attribute: "layer_names") != nil
        let hasChunkedLayerNames = try file.strings("/", attribute: "layer_names0") != nil
        if hasLayerNames || hasChunkedLayerNames {
            let (_, weighted) = try KerasWeightReader.read(file, root: "/")
            if architecture == DeepIDArchitecture.name || (architecture == nil && DeepIDArchitecture.matches(weighted)) {
                let (g, out) = try DeepIDArchitecture.build(weighted, path: path)
                return (g, DeepIDArchitecture.describe(outputLayer: out, provenance: provenance("keras-h5-weights", "deepid (built in)")))
            }
            if architecture == VGGFaceArchitecture.name || (architecture == nil && VGGFaceArchitecture.mismatch(weighted) == nil) {
                let (g, out, _) = try VGGFaceArchitecture.build(weighted, path: path, descriptor: options.descriptor)
                var d = ModelDescription(
                    name: "VGG-Face", input: options.normalization.inputSpec(height: 224, width: 224), outputLayer: out,
                    l2Normalize: options.descriptor.l2Normalize, defaultMetric: .cosine, thresholds: options.descriptor.thresholds,
                    provenance: provenance("keras-h5-weights", "vggface (built in)"))
                d.outputName = options.descriptor.rawValue
                return (g, d)
            }
            let shapes = weighted.map { "\($0.layerName) \($0.shapes.first ?? [])" }.joined(separator: ", ")
            throw FacecError(.weights, path, "weights-only Keras file whose layers match no built-in architecture (\(builtInArchitectures.joined(separator: ", "))): \(shapes); pass --arch NAME to force one, or convert a full-model file (model.save)")
        }

        if try file.exists("/layers"), try file.exists("/vars") {
            throw FacecError(.weights, path, "this is a Keras 3 '.weights.h5' file (model.save_weights in Keras 3): it stores weights by variable index without layer order or architecture, so facec cannot pair them reliably; save the model with model.save('model.h5') or as legacy Keras 2 weights instead")
        }
        throw FacecError(.weights, path, "HDF5 file without Keras weights (no 'layer_names' or 'model_config' attribute)")
    }

    /// A Keras model facec has no built-in knowledge of: deepface's input
    /// conventions (BGR, /255, aspect-preserving pad), no thresholds.
    private static func genericDescription(_ g: Graph, name: String, output: Int, provenance: Provenance) -> ModelDescription {
        var input = deepfaceInput(height: 1, width: 1)
        if let first = g.layers.first(where: { if case .input = $0.op { return true } else { return false } }),
           case .input(let h, let w, _) = first.op {
            input = deepfaceInput(height: h, width: w)
        }
        return ModelDescription(name: name, input: input, outputLayer: output, l2Normalize: false,
                                defaultMetric: .cosine, thresholds: [:], provenance: provenance)
    }
}

func baseName(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
