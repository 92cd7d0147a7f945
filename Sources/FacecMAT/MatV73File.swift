import FacecHDF5
import FacecCore
#if canImport(Glibc)
import Glibc

#endif

/// A MAT v7.3 file: HDF5 with MATLAB's conventions behind a 512-byte
/// userblock that holds the MAT header, read with facec's own HDF5 reader
/// (`H5File`). Arrays are opened on demand and their data read only when
/// asked for (`MatV73Array`).
package final class MatV73File: MatSource {
    package let path: String
    package let file: H5File
    /// Datasets of at least this many bytes are inflated on all cores
    /// (`H5Chunks`); tests lower it to run that path on small fixtures.
    var parallelReadMinimum = H5Chunks.parallelMinimum
    /// How many datasets took that path (for tests).
    var parallelReads = 0

    package var versionName: String { "MAT v7.3 (HDF5)" }

    /// Whether the 128-byte MAT header says v7.3 (version 0x0200, in either
    /// byte order, with its endian indicator).
    package static func hasV73Header(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 128)
        guard head.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, 128) }) == 128 else { return false }
        return head.starts(with: Array("MATLAB".utf8))
            && (head[124...127] == [0x00, 0x02, 0x49, 0x4D] || head[124...127] == [0x02, 0x00, 0x4D, 0x49])
    }

    package init(path: String) throws {
        self.path = path
        try checkReadableFile(path)
        do {
            file = try H5File(path: path)
        } catch let error as FacecError where error.reason.hasPrefix("not an HDF5 file") {
            throw FacecError(.weights, path, "has a MAT v7.3 header but no HDF5 data after it (damaged or truncated file?)")
        }
    }

    /// The root group's members except MATLAB's own (`#refs#`, `#subsystem#`).
    package func variableNames() throws -> [String] {
        do {
            return try file.root.links().map(\.name).filter { !$0.hasPrefix("#") }
        } catch let fault as ReadFault {
            throw FacecError(.weights, path, "cannot list the variables: \(fault.reason)")
        }
    }

    package func read(_ name: String) throws -> MatNode {
        do {
            guard let array = try MatV73Array.open(member: name, of: file.root, in: self, ancestors: []) else {
                throw FacecError(.weights, path, "has no variable '\(name)'")
            }
            return MatNode(storage: array, path: name, source: self)
        } catch let fault as ReadFault {
            throw FacecError(.weights, path, "\(name)\(fault.within): \(fault.reason)")
        }
    }
}
