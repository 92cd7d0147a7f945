import FacecDigest
import FacecDlib
import FacecCore
import FacecFormat
import FacecGraph

/// Entry point for dlib DNN files (`.dat` written by dlib's `serialize`):
/// dlib's face recognition ResNet, deepface's "Dlib" model. Other dlib files
/// (detectors, shape predictors, other networks) are refused by name.
public enum DlibImporter {
    /// dlib networks are read whole into memory; the face ResNet is 22 MB.
    static let maxFileBytes = 1 << 30

    public static func load(path: String) throws -> (Graph, ModelDescription) {
        let bytes: [UInt8]
        switch InputFile.readAll(path, maxBytes: maxFileBytes) {
        case .success(let b): bytes = b
        case .failure(let problem): throw FacecError(.io, path, problem.reason)
        }
        let network: DlibNetwork
        do {
            network = try DlibNetwork(bytes: bytes)
        } catch let fault as ReadFault {
            throw FacecError(.weights, path, "dlib file: \(fault.reason)")
        }
        let (graph, output) = try DlibResNet.build(network, path: path)
        let provenance = Provenance(sourceFile: baseName(path), sourceSHA256: digest(bytes), sourceFormat: "dlib-dnn (\(network.loss))",
                                    architecture: DlibResNet.description, converterVersion: "facec \(facecVersion)")
        return (graph, DlibResNet.describe(network, outputLayer: output, provenance: provenance))
    }

    private static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finish()
    }

    /// dlib's serialization of a network starts with the loss layer's version
    /// (1) and its name; shape predictors with version 1 and a matrix.
    static func looksLikeDlib(_ head: [UInt8]) -> Bool {
        head.count >= 3 && head[0] == 0x01 && head[1] == 0x01
    }
}
