import CHDF5
#if canImport(Glibc)
import Glibc
#endif

/// A MAT v7.3 file: HDF5 with MATLAB's conventions behind a 512-byte
/// userblock that holds the MAT header, read with libhdf5 directly (libmatio
/// 1.5.23 cannot list hdf5storage's files and looks up the name of every
/// referenced cell, which is quadratic in the file size). Arrays are opened
/// on demand and their data read only when asked for (`MatV73Array`).
final class MatV73File: MatSource {
    let path: String
    let id: hid_t
    /// Object addresses are relative to the end of the userblock; a valid
    /// one lies below this.
    let addressLimit: UInt64
    /// Transfer properties for reads of at most `smallReadBytes` (most
    /// arrays: names, parameters): HDF5 allocates and zeroes its 1 MB default
    /// conversion buffer on every converting read otherwise.
    let smallReads: hid_t
    static let smallReadBytes = 1 << 16
    /// Datasets of at least this many bytes (deflate-compressed, no
    /// conversion) are inflated on all cores (`HDF5ParallelChunks`); tests
    /// lower it to run that path on small fixtures.
    var parallelReadMinimum = HDF5ParallelChunks.minimumBytes
    /// How many datasets took that path (for tests).
    var parallelReads = 0

    var versionName: String { "MAT v7.3 (HDF5)" }

    /// Whether the 128-byte MAT header says v7.3 (version 0x0200, in either
    /// byte order, with its endian indicator).
    static func hasV73Header(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 128)
        guard head.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, 128) }) == 128 else { return false }
        return head.starts(with: Array("MATLAB".utf8))
            && (head[124...127] == [0x00, 0x02, 0x49, 0x4D] || head[124...127] == [0x02, 0x00, 0x4D, 0x49])
    }

    init(path: String) throws {
        self.path = path
        HDF5.prepareForUntrustedFiles()
        try checkReadableFile(path)
        guard H5Fis_hdf5(path) > 0 else {
            throw ImportError(path, "has a MAT v7.3 header but no HDF5 data after it (damaged or truncated file?)")
        }
        let fapl = facec_H5_read_once_access()
        defer { if fapl >= 0 { H5Pclose(fapl) } }
        let f = H5Fopen(path, facec_H5F_ACC_RDONLY(), fapl >= 0 ? fapl : facec_H5P_DEFAULT())
        guard f >= 0 else { throw ImportError(path, "cannot open the MAT v7.3 (HDF5) data\(HDF5.lastError())") }
        id = f
        smallReads = facec_H5_transfer_list(Self.smallReadBytes)
        guard smallReads >= 0 else { H5Fclose(f); throw ImportError(path, "cannot set up HDF5 reads\(HDF5.lastError())") }
        var size: hsize_t = 0, userblock: hsize_t = 0
        let fcpl = H5Fget_create_plist(f)
        if fcpl >= 0 { H5Pget_userblock(fcpl, &userblock); H5Pclose(fcpl) }
        H5Fget_filesize(f, &size)
        addressLimit = size > userblock ? UInt64(size - userblock) : 0
    }

    deinit {
        H5Pclose(smallReads)
        H5Fclose(id)
    }

    /// The root group's members except MATLAB's own (`#refs#`, `#subsystem#`).
    func variableNames() throws -> [String] {
        do {
            return try HDF5Group.linkNames(id, limit: 10_000).filter { !$0.hasPrefix("#") }
        } catch let fault as ReadFault {
            throw ImportError(path, "cannot list the variables: \(fault.reason)")
        }
    }

    func read(_ name: String) throws -> MatNode {
        do {
            guard let array = try MatV73Array.open(member: name, of: id, in: self, ancestors: []) else {
                throw ImportError(path, "has no variable '\(name)'")
            }
            return MatNode(storage: array, path: name, source: self)
        } catch let fault as ReadFault {
            throw ImportError(path, "\(name)\(fault.within): \(fault.reason)")
        }
    }
}

/// Group members, checked.
enum HDF5Group {
    /// Names of the links in `group`, in name order; at most `limit`.
    static func linkNames(_ group: hid_t, limit: Int) throws -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0 else { throw ReadFault("unreadable group\(HDF5.lastError())") }
        guard info.nlinks <= UInt64(limit) else { throw ReadFault("the group has \(info.nlinks) members") }
        return try (0..<info.nlinks).map { i in
            let order = H5_ITER_INC, index = H5_INDEX_NAME, lapl = facec_H5P_DEFAULT()
            let length = H5Lget_name_by_idx(group, ".", index, order, i, nil, 0, lapl)
            guard length >= 0, length < 4096 else { throw ReadFault("member \(i + 1) has an unreadable name\(HDF5.lastError())") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Lget_name_by_idx(group, ".", index, order, i, &buffer, buffer.count, lapl) >= 0 else {
                throw ReadFault("member \(i + 1) has an unreadable name\(HDF5.lastError())")
            }
            return String(cString: buffer)
        }
    }

    /// Opens member `name` of `group`, following only hard links (a soft or
    /// external link could lead anywhere, including other files); nil when
    /// there is no such member. Also gives the object's address, its
    /// identity in the file.
    static func openMember(_ group: hid_t, _ name: String) throws -> (id: hid_t, address: UInt64)? {
        guard !name.isEmpty, !name.contains("/"), name != "." else { throw ReadFault("has an invalid member name '\(name)'") }
        guard H5Lexists(group, name, facec_H5P_DEFAULT()) > 0 else { return nil }
        var link = H5L_info_t()
        guard H5Lget_info(group, name, &link, facec_H5P_DEFAULT()) >= 0 else { throw ReadFault("unreadable link\(HDF5.lastError())") }
        guard link.type == H5L_TYPE_HARD else {
            throw ReadFault("is a \(link.type == H5L_TYPE_EXTERNAL ? "link into another file" : "soft link"), which facec does not follow")
        }
        let obj = H5Oopen(group, name, facec_H5P_DEFAULT())
        guard obj >= 0 else { throw ReadFault("cannot be opened\(HDF5.lastError())") }
        return (obj, UInt64(link.u.address))
    }
}
