import FacecCore
import FacecDigest
import FacecFormat
import FacecGraph
import FacecJoblib
#if canImport(Glibc)
import Glibc
#endif

/// deepface's "mtcnn" detector from PyPI mtcnn 1.0.0's own weight files
/// (`mtcnn/assets/weights/{pnet,rnet,onet}.lz4`: LZ4 frames holding joblib
/// pickles of float32 arrays in Keras `get_weights` order), read by
/// FacecJoblib's bounded reader and compiled by `MTCNNCompiler`.
public enum MTCNNWeights {
    public static let files = ["pnet.lz4", "rnet.lz4", "onet.lz4"]
    /// The largest weight file accepted (mtcnn's O-Net file is 1.5 MB).
    static let maxFileBytes = 64 << 20

    /// Where `scripts/fetch-weights.sh mtcnn` (run by set-up) puts them.
    public static var defaultDirectory: String {
        let cache = getenv("XDG_CACHE_HOME").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? ((getenv("HOME").map { String(cString: $0) } ?? "") + "/.cache")
        return cache + "/facec-weights/mtcnn-1.0.0"
    }

    /// The three networks of `directory` (default: `defaultDirectory`) added
    /// to `model`; the detector that runs them, its source naming each file
    /// and its SHA-256.
    public static func compile(directory: String?, into model: inout CompiledModel) throws -> DetectorSpec {
        let dir = directory ?? defaultDirectory
        var lists: [[MTCNNCompiler.KerasArray]] = [], sources: [String] = [], paths: [String] = []
        for name in files {
            let path = dir + "/" + name
            if directory == nil && access(path, F_OK) != 0 {
                throw FacecError(.weights, path, "no such file (scripts/fetch-weights.sh mtcnn fetches mtcnn 1.0.0's weights there, or give --mtcnn-weights DIR)")
            }
            try checkReadableFile(path)
            let bytes: [UInt8]
            switch InputFile.readAll(path, maxBytes: maxFileBytes) {
            case .success(let b): bytes = b
            case .failure(let problem): throw FacecError(.io, path, problem.reason)
            }
            do {
                lists.append(try JoblibArrays(bytes: bytes).arrays.map { MTCNNCompiler.KerasArray(shape: $0.shape, values: $0.values) })
            } catch let f {
                throw FacecError(.weights, path, "not mtcnn's joblib weights: \(f.reason)")
            }
            var hasher = SHA256()
            bytes.withUnsafeBytes { hasher.update($0) }
            sources.append("\(name) sha256 " + hasher.finish().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
            paths.append(path)
        }
        return try MTCNNCompiler.append(pnet: lists[0], rnet: lists[1], onet: lists[2], files: paths,
                                        source: "mtcnn 1.0.0: " + sources.joined(separator: ", "), to: &model)
    }
}
