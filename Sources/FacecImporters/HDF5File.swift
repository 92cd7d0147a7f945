import CHDF5
#if canImport(Glibc)
import Glibc
#endif

/// A read-only HDF5 file with the few checked reads the Keras importer needs:
/// string attributes (fixed- and variable-length), and float datasets whose
/// shape is known before their data is read.
final class HDF5File {
    let path: String
    private let id: hid_t

    /// Datasets larger than this are refused before allocating (VGG-Face fc6
    /// is 102.8 M floats).
    static let maxElements = 1 << 30

    init(path: String) throws {
        self.path = path
        HDF5.prepareForUntrustedFiles()
        try checkReadableFile(path)
        guard H5Fis_hdf5(path) > 0 else { throw ImportError(path, "not an HDF5 file") }
        let f = H5Fopen(path, facec_H5F_ACC_RDONLY(), facec_H5P_DEFAULT())
        guard f >= 0 else { throw ImportError(path, "cannot open the HDF5 file (damaged or truncated?)\(HDF5.lastError())") }
        id = f
    }

    deinit { H5Fclose(id) }

    /// Whether `path` (like "/model_weights/Conv1") names an object; checks
    /// each component, as H5Lexists requires.
    func exists(_ objectPath: String) -> Bool {
        var prefix = ""
        for part in objectPath.split(separator: "/") {
            prefix += "/" + part
            guard H5Lexists(id, prefix, facec_H5P_DEFAULT()) > 0 else { return false }
        }
        return true
    }

    func isGroup(_ objectPath: String) -> Bool {
        guard exists(objectPath) else { return false }
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(id, objectPath, &info, UInt32(H5O_INFO_BASIC), facec_H5P_DEFAULT()) >= 0 else { return false }
        return info.type == H5O_TYPE_GROUP
    }

    /// Refuses a path through soft or external links: they could lead
    /// anywhere, including into other files.
    func requireHardLinks(_ objectPath: String) throws {
        var prefix = ""
        for part in objectPath.split(separator: "/") {
            prefix += "/" + part
            var link = H5L_info_t()
            guard H5Lget_info(id, prefix, &link, facec_H5P_DEFAULT()) >= 0 else { return }   // missing: reported by the caller
            guard link.type == H5L_TYPE_HARD else {
                throw ImportError(path, "'\(prefix)' is a \(link.type == H5L_TYPE_EXTERNAL ? "link into another file" : "soft link"), which facec does not follow")
            }
        }
    }

    /// A string or string-array attribute of the object at `objectPath`;
    /// nil when absent (see `HDF5Attribute.strings`).
    func strings(_ objectPath: String, attribute name: String) throws -> [String]? {
        try requireHardLinks(objectPath)
        let obj = H5Oopen(id, objectPath, facec_H5P_DEFAULT())
        guard obj >= 0 else { throw ImportError(path, "cannot open '\(objectPath)'") }
        defer { H5Oclose(obj) }
        do {
            return try HDF5Attribute.strings(obj, name)
        } catch let fault as ReadFault {
            throw ImportError(path, "attribute '\(name)' of '\(objectPath)' \(fault.reason)")
        }
    }

    /// The shape of a float dataset (checked to be floating point and of a sane size).
    func datasetShape(_ objectPath: String) throws -> [Int] {
        guard exists(objectPath) else { throw ImportError(path, "missing dataset '\(objectPath)'") }
        try requireHardLinks(objectPath)
        let d = H5Dopen2(id, objectPath, facec_H5P_DEFAULT())
        guard d >= 0 else { throw ImportError(path, "'\(objectPath)' is not a dataset") }
        defer { H5Dclose(d) }
        let type = H5Dget_type(d), space = H5Dget_space(d)
        defer { H5Tclose(type); H5Sclose(space) }
        guard H5Tget_class(type) == H5T_FLOAT else { throw ImportError(path, "dataset '\(objectPath)' is not floating point") }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard (0...8).contains(rank) else { throw ImportError(path, "dataset '\(objectPath)' has rank \(rank)") }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        var elements = 1
        for d in dims {
            let (r, o) = elements.multipliedReportingOverflow(by: Int(clamping: d))
            guard !o, r <= Self.maxElements, d <= UInt64(Self.maxElements) else { throw ImportError(path, "dataset '\(objectPath)' is too large (\(dims))") }
            elements = r
        }
        return dims.map { Int(clamping: $0) }
    }

    /// Reads a float dataset as float32 (converted by HDF5 if stored otherwise).
    func readFloats(_ objectPath: String, expecting shape: [Int]) throws -> [Float] {
        let actual = try datasetShape(objectPath)
        guard actual == shape else { throw ImportError(path, "dataset '\(objectPath)' has shape \(actual), expected \(shape)") }
        let d = H5Dopen2(id, objectPath, facec_H5P_DEFAULT())
        guard d >= 0 else { throw ImportError(path, "cannot open dataset '\(objectPath)'") }
        defer { H5Dclose(d) }
        do {
            let type = H5Dget_type(d)
            defer { H5Tclose(type) }
            try HDF5Storage.check(d, dims: shape, elementBytes: H5Tget_size(type))
        } catch let fault as ReadFault {
            throw ImportError(path, "dataset '\(objectPath)' \(fault.reason)")
        }
        var values = [Float](repeating: 0, count: shape.reduce(1, *))
        let status = values.withUnsafeMutableBytes {
            H5Dread(d, facec_H5T_NATIVE_FLOAT(), facec_H5S_ALL(), facec_H5S_ALL(), facec_H5P_DEFAULT(), $0.baseAddress)
        }
        guard status >= 0 else { throw ImportError(path, "cannot read dataset '\(objectPath)' (damaged or truncated file?)") }
        return values
    }
}
