@testable import FacecHDF5
import CHDF5
import FacecCore
import Foundation
import Testing
@testable import FacecImporters

/// facec's own HDF5 reader against libhdf5 (the independent reference, used
/// only here): every group's members, every attribute and every dataset of
/// every HDF5 fixture (Keras files of each writer, MAT v7.3 files of both
/// writers, and scripts/fixtures/generate_hdf5_layouts.py's files with every
/// layout, filter, index and group kind), compared value for value.
@Suite struct H5ReaderTests {
    static let files: [String] = {
        let fm = FileManager.default
        var paths: [String] = []
        for dir in ["", "vgg", "hdf5"] {
            let base = TestPaths.fixtures.appendingPathComponent(dir)
            for name in (try? fm.contentsOfDirectory(atPath: base.path)) ?? [] where
                name.hasSuffix(".h5") && !name.hasPrefix("external") || name.hasSuffix("_v73.mat") || name.hasSuffix("_hdf5storage.mat") {
                paths.append(base.appendingPathComponent(name).path)
            }
        }
        return paths.sorted()
    }()

    @Test func everyFixtureIsCovered() {
        #expect(Self.files.count >= 15, "\(Self.files)")
        #expect(Self.files.contains { $0.hasSuffix("hdf5/latest.h5") })
    }

    @Test(arguments: files)
    func readsWhatLibHDF5Reads(_ path: String) throws {
        facec_H5_silence_errors()
        let ours = try H5File(path: path)
        let theirs = H5Fopen(path, facec_H5F_ACC_RDONLY(), facec_H5P_DEFAULT())
        try #require(theirs >= 0)
        defer { H5Fclose(theirs) }
        var seen = Set<UInt64>()
        var compared = (groups: 0, datasets: 0, attributes: 0)
        func visit(_ object: H5Object, _ name: String) throws {
            do { try visitChecked(object, name) } catch let fault as ReadFault {
                Issue.record("\(path) \(name): \(fault.reason)")
            }
        }
        func visitChecked(_ object: H5Object, _ name: String) throws {
            guard seen.insert(object.address).inserted else { return }
            let id = H5Oopen(theirs, name, facec_H5P_DEFAULT())
            try #require(id >= 0, "libhdf5 cannot open \(name)")
            defer { H5Oclose(id) }
            try compareAttributes(object, id, name, ours, &compared.attributes)
            if object.isGroup {
                #expect(H5Iget_type(id) == H5I_GROUP, "\(name)")
                let links = try object.links()
                #expect(links.map(\.name) == Self.linkNames(id), "\(path) \(name)")
                compared.groups += 1
                for link in links {
                    guard case .hard(let address) = link.target else {
                        #expect(facec_H5_link_type(id, link.name) != Int32(H5L_TYPE_HARD.rawValue), "\(name)/\(link.name)")
                        continue
                    }
                    try visit(H5Object(file: ours, address: address), (name == "/" ? "" : name) + "/" + link.name)
                }
            } else {
                #expect(H5Iget_type(id) == H5I_DATASET, "\(name)")
                try compareDataset(H5Dataset(object), id, "\(path) \(name)")
                compared.datasets += 1
            }
        }
        try visit(ours.root, "/")
        #expect(compared.groups > 0 && compared.datasets > 0, "\(path): \(compared)")
    }

    /// The generated files really hold the structures they are meant to
    /// (so the comparison above covers them).
    @Test func layoutFixturesHoldEveryStructure() throws {
        let latest = try H5File(path: TestPaths.fixture("hdf5/latest.h5"))
        #expect(latest.superblockVersion >= 2)
        func storage(_ file: H5File, _ path: String) throws -> String {
            let d = try H5Dataset(#require(try file.object(at: path)))
            return "\(d.storage)"
        }
        #expect(try storage(latest, "/chunked/fixed_array").contains("fixedArray"))
        #expect(try storage(latest, "/chunked/single_deflate").contains("single"))
        #expect(try storage(latest, "/numbers/compact").contains("compact"))
        let dense = try #require(try latest.object(at: "/dense"))
        #expect(dense.header.first(H5Message.link) == nil && dense.header.first(H5Message.linkInfo) != nil)
        #expect(dense.header.all(H5Message.attribute).isEmpty)
        #expect(try dense.attributes().count == 40)
        #expect(try dense.links().count == 40)
        let earliest = try H5File(path: TestPaths.fixture("hdf5/earliest.h5"))
        #expect(earliest.superblockVersion == 0)
        #expect(try storage(earliest, "/chunked/fletcher").contains("btree1"))
        #expect(try earliest.object(at: "/large_group")?.links().count == 400)
    }

    /// Member names in name order, as libhdf5 lists them.
    static func linkNames(_ group: hid_t) -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0 else { return ["<unreadable>"] }
        return (0..<info.nlinks).map { i in
            let n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, facec_H5P_DEFAULT())
            var buffer = [CChar](repeating: 0, count: Int(max(0, n)) + 1)
            H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, facec_H5P_DEFAULT())
            return String(cString: buffer)
        }
    }

    func compareAttributes(_ object: H5Object, _ id: hid_t, _ name: String, _ file: H5File, _ count: inout Int) throws {
        let attributes = try object.attributes()
        #expect(attributes.count == Int(facec_H5_num_attrs(id)), "\(name)")
        for a in attributes {
            let attr = H5Aopen(id, a.name, facec_H5P_DEFAULT())
            try #require(attr >= 0, "libhdf5 has no attribute \(a.name) on \(name)")
            defer { H5Aclose(attr) }
            let type = H5Aget_type(attr), space = H5Aget_space(attr)
            defer { H5Tclose(type); H5Sclose(space) }
            #expect(Int(H5Sget_simple_extent_npoints(space)) == a.space.count ?? -1, "\(name)@\(a.name)")
            if H5Tget_class(type) == H5T_STRING || H5Tget_class(type) == H5T_VLEN {
                #expect(try a.strings(in: file) == Self.strings(attr, type, space), "\(name)@\(a.name)")
            } else if H5Tget_class(type) != H5T_REFERENCE {
                var raw = [UInt8](repeating: 0, count: a.data.count)
                #expect(H5Aread(attr, type, &raw) >= 0)
                #expect(Array(file.bytes[a.data]) == raw, "\(name)@\(a.name)")
                #expect(H5Tget_size(type) == a.type.size, "\(name)@\(a.name)")
            }
            count += 1
        }
    }

    /// String values as libhdf5 converts them (variable-length read as C
    /// strings, fixed-length trimmed as facec trims them).
    static func strings(_ attr: hid_t, _ type: hid_t, _ space: hid_t) -> [String] {
        let n = Int(H5Sget_simple_extent_npoints(space))
        if n == 0 { return [] }
        if H5Tget_class(type) == H5T_VLEN {
            let base = H5Tget_super(type)
            let mem = H5Tvlen_create(base)
            defer { H5Tclose(mem); H5Tclose(base) }
            var sequences = [hvl_t](repeating: hvl_t(), count: n)
            H5Aread(attr, mem, &sequences)
            return sequences.map { String(decoding: UnsafeRawBufferPointer(start: $0.p, count: $0.len), as: UTF8.self) }
        }
        if H5Tis_variable_str(type) > 0 {
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
            H5Aread(attr, type, &pointers)
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(type)
        var buffer = [UInt8](repeating: 0, count: n * size)
        H5Aread(attr, type, &buffer)
        return (0..<n).map { i in
            var chunk = buffer[(i * size)..<((i + 1) * size)]
            if let end = chunk.firstIndex(of: 0) { chunk = chunk[..<end] }
            if H5Tget_strpad(type) == H5T_STR_SPACEPAD { while chunk.last == 0x20 { chunk = chunk.dropLast() } }
            return String(decoding: chunk, as: UTF8.self)
        }
    }

    func compareDataset(_ d: H5Dataset, _ id: hid_t, _ name: String) throws {
        let type = H5Dget_type(id), space = H5Dget_space(id)
        defer { H5Tclose(type); H5Sclose(space) }
        var dims = [hsize_t](repeating: 0, count: Int(H5Sget_simple_extent_ndims(space)))
        H5Sget_simple_extent_dims(space, &dims, nil)
        #expect(d.dims == dims.map { Int($0) }, "\(name)")
        #expect(d.elementBytes == H5Tget_size(type), "\(name)")
        if d.type.isObjectReference {
            var refs = [UInt64](repeating: 0, count: d.count)
            #expect(H5Dread(id, facec_H5T_STD_REF_OBJ(), facec_H5S_ALL(), facec_H5S_ALL(), facec_H5P_DEFAULT(), &refs) >= 0)
            #expect(try d.references() == refs, "\(name)")
            return
        }
        // Bytes as stored (libhdf5 reads with the file's own type: no conversion).
        var raw = [UInt8](repeating: 0, count: d.byteCount)
        #expect(d.count == 0 || H5Dread(id, type, facec_H5S_ALL(), facec_H5S_ALL(), facec_H5P_DEFAULT(), &raw) >= 0, "\(name)")
        #expect(try d.bytes() == raw, "\(name)")
        if d.type.isFloat || d.type.isInteger {
            var values = [Double](repeating: 0, count: d.count)
            #expect(d.count == 0 || H5Dread(id, facec_H5T_NATIVE_DOUBLE(), facec_H5S_ALL(), facec_H5S_ALL(), facec_H5P_DEFAULT(), &values) >= 0)
            #expect(try d.doubles().map(\.bitPattern) == values.map(\.bitPattern), "\(name)")
        }
    }
}
