import FacecCore
#if canImport(Glibc)
import Glibc

#endif
import FacecGraph

/// Conversion choices that depend on the model family.
public struct ImportOptions: Sendable {
    /// Built-in architecture for weights-only Keras files (nil: detect).
    public var architecture: String?
    /// VGG-Face: which output is the embedding.
    public var descriptor: VGGDescriptor
    /// VGG-Face from Keras: deepface's input normalisation.
    public var normalization: DeepfaceNormalization

    public init(architecture: String? = nil, descriptor: VGGDescriptor = .fc7, normalization: DeepfaceNormalization = .base) {
        self.architecture = architecture; self.descriptor = descriptor; self.normalization = normalization
    }
}

/// The front door: picks the importer from the file's first bytes.
public enum ModelImporter {
    public static func load(path: String, options: ImportOptions = ImportOptions()) throws -> (Graph, ModelDescription) {
        let head = try firstBytes(path, 128)
        if head.starts(with: Array("MATLAB".utf8)) {
            if options.architecture != nil {
                throw FacecError(.weights, path, "--arch applies to Keras weights-only files; a MatConvNet file describes its own layers")
            }
            return try MatConvNetImporter.load(path: path, descriptor: options.descriptor)
        }
        if head.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try KerasImporter.load(path: path, architecture: options.architecture, options: options)
        }
        if DlibImporter.looksLikeDlib(head) {
            if options.architecture != nil {
                throw FacecError(.weights, path, "--arch applies to Keras weights-only files; a dlib network file is read as dlib's face recognition ResNet")
            }
            return try DlibImporter.load(path: path)
        }
        if head.isEmpty { throw FacecError(.weights, path, "empty file") }
        if path.hasSuffix(".mat") {
            // MAT v4 files have no text header: MatV5File refuses them by name.
            return try MatConvNetImporter.load(path: path, descriptor: options.descriptor)
        }
        throw FacecError(.weights, path, "unknown weight file format: neither Keras HDF5 (.h5), a MATLAB .mat file nor a dlib network (.dat)")
    }

    private static func firstBytes(_ path: String, _ n: Int) throws -> [UInt8] {
        try checkReadableFile(path)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FacecError(.io, path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: n)
        let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, n) }
        guard got >= 0 else { throw FacecError(.io, path, "cannot read: \(String(cString: strerror(errno)))") }
        return Array(buffer.prefix(got))
    }
}
