import FacecCore
/// A Keras HDF5 file with the few checked reads the Keras importer needs:
/// string attributes (fixed- and variable-length), and float datasets whose
/// shape is known before their data is read. Objects are named by absolute
/// paths like "/model_weights/Conv1"; only hard links are followed.
package final class HDF5File {
    package let path: String
    private let file: H5File

    /// Datasets larger than this are refused before allocating (VGG-Face fc6
    /// is 102.8 M floats).
    static let maxElements = 1 << 30

    package init(path: String) throws {
        self.path = path
        try checkReadableFile(path)
        file = try H5File(path: path)
    }

    /// Runs a read, turning a reader's fault into an error naming the file.
    private func checked<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let fault as ReadFault {
            throw FacecError(.weights, path, "\(what) \(fault.reason)")
        }
    }

    private func object(_ objectPath: String) throws -> H5Object? {
        do { return try file.object(at: objectPath) } catch let fault as ReadFault { throw FacecError(.weights, path, fault.reason) }
    }

    /// Whether `objectPath` names an object (reached through hard links).
    package func exists(_ objectPath: String) throws -> Bool { try object(objectPath) != nil }

    package func isGroup(_ objectPath: String) throws -> Bool { try object(objectPath)?.isGroup ?? false }

    /// A string or string-array attribute of the object at `objectPath`;
    /// nil when absent (see `H5Attribute.strings`).
    package func strings(_ objectPath: String, attribute name: String) throws -> [String]? {
        guard let obj = try object(objectPath) else { throw FacecError(.weights, path, "cannot open '\(objectPath)'") }
        return try checked("attribute '\(name)' of '\(objectPath)'") {
            try obj.attribute(name).map { try $0.strings(in: file) }
        }
    }

    private func dataset(_ objectPath: String) throws -> H5Dataset {
        guard let obj = try object(objectPath) else { throw FacecError(.weights, path, "missing dataset '\(objectPath)'") }
        guard obj.isDataset else { throw FacecError(.weights, path, "'\(objectPath)' is not a dataset") }
        return try checked("dataset '\(objectPath)'") { try H5Dataset(obj) }
    }

    /// The shape of a float dataset (checked to be floating point and of a sane size).
    package func datasetShape(_ objectPath: String) throws -> [Int] { try floatDataset(objectPath).dims }

    private func floatDataset(_ objectPath: String) throws -> H5Dataset {
        let d = try dataset(objectPath)
        guard d.type.isFloat else { throw FacecError(.weights, path, "dataset '\(objectPath)' is not floating point") }
        guard d.dims.count <= 8 else { throw FacecError(.weights, path, "dataset '\(objectPath)' has rank \(d.dims.count)") }
        guard d.count <= Self.maxElements else { throw FacecError(.weights, path, "dataset '\(objectPath)' is too large (\(d.dims))") }
        return d
    }

    /// Reads a float dataset as float32 (converted if stored otherwise).
    package func readFloats(_ objectPath: String, expecting shape: [Int]) throws -> [Float] {
        let d = try floatDataset(objectPath)
        guard d.dims == shape else { throw FacecError(.weights, path, "dataset '\(objectPath)' has shape \(d.dims), expected \(shape)") }
        return try checked("dataset '\(objectPath)'") { try d.floats() }
    }
}
