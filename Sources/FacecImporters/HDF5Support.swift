import CHDF5

/// Small checked helpers on libhdf5 shared by the Keras reader and the MAT
/// v7.3 reader. They throw `ReadFault`s; callers add the file and the object.
enum HDF5 {
    /// ": <HDF5's most specific message>" for the error just raised (e.g.
    /// "truncated file: eof = …"), or "" when HDF5 recorded none.
    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        facec_H5_last_error(&buffer)
        let message = String(cString: buffer)
        return message.isEmpty ? "" : ": \(message)"
    }

    /// Dimensions of a simple dataspace (rank ≤ 32), HDF5 (C) order.
    static func extent(_ space: hid_t) throws -> [UInt64] {
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard (0...32).contains(rank) else { throw ReadFault("has a dataspace of rank \(rank)") }
        var dims = [hsize_t](repeating: 0, count: rank)
        guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { throw ReadFault("has an unreadable dataspace\(lastError())") }
        return dims.map { UInt64($0) }
    }
}

extension HDF5 {
    /// Before opening a file that may be hostile: no automatic error
    /// printing, and no filter plugins loaded because a file names them
    /// (MAT and Keras files need only HDF5's built-in deflate and shuffle).
    static func prepareForUntrustedFiles() {
        facec_H5_silence_errors()
        H5PLset_loading_state(0)
    }
}

/// Attributes read with their size checked before anything is allocated.
enum HDF5Attribute {
    /// A string or string-array attribute of `obj` (fixed-length with any
    /// padding, variable-length, or MATLAB's variable-length sequences of
    /// one-byte characters); nil when absent. An empty non-string array (how
    /// old Keras wrote empty `weight_names`) reads as [].
    static func strings(_ obj: hid_t, _ name: String) throws -> [String]? {
        try opened(obj, name) { attr, type, space in try strings(attr, type, space) }
    }

    /// Runs `body` on attribute `name` of `obj` with its type and dataspace
    /// (closed afterwards); nil when there is no such attribute.
    private static func opened<T>(_ obj: hid_t, _ name: String, _ body: (hid_t, hid_t, hid_t) throws -> T) throws -> T? {
        guard H5Aexists(obj, name) > 0 else { return nil }
        let attr = H5Aopen(obj, name, facec_H5P_DEFAULT())
        guard attr >= 0 else { throw ReadFault("cannot be opened\(HDF5.lastError())") }
        defer { H5Aclose(attr) }
        let type = H5Aget_type(attr), space = H5Aget_space(attr)
        defer { H5Tclose(type); H5Sclose(space) }
        return try body(attr, type, space)
    }

    private static func strings(_ attr: hid_t, _ type: hid_t, _ space: hid_t) throws -> [String] {
        let count = Int(H5Sget_simple_extent_npoints(space))
        guard count >= 0, count <= 1 << 20 else { throw ReadFault("has \(count) elements") }
        if count == 0 { return [] }
        switch H5Tget_class(type) {
        case H5T_STRING where H5Tis_variable_str(type) > 0:
            let mem = H5Tcopy(facec_H5T_C_S1())
            defer { H5Tclose(mem) }
            H5Tset_size(mem, facec_H5T_VARIABLE())
            H5Tset_cset(mem, H5Tget_cset(type))
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(attr, mem, &pointers) >= 0 else { throw ReadFault("cannot be read\(HDF5.lastError())") }
            defer { for p in pointers where p != nil { H5free_memory(p) } }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        case H5T_STRING:
            // Read with the file's own type: any padding (NULLTERM, NULLPAD,
            // SPACEPAD) arrives as the stored bytes, trimmed below.
            let size = H5Tget_size(type)
            guard size > 0, size <= 1 << 16, count * size <= 1 << 26 else { throw ReadFault("is too large") }
            var buffer = [UInt8](repeating: 0, count: count * size)
            guard H5Aread(attr, type, &buffer) >= 0 else { throw ReadFault("cannot be read\(HDF5.lastError())") }
            return (0..<count).map { i in
                var chunk = buffer[(i * size)..<((i + 1) * size)]
                if let end = chunk.firstIndex(of: 0) { chunk = chunk[..<end] }
                if H5Tget_strpad(type) == H5T_STR_SPACEPAD { while chunk.last == 0x20 { chunk = chunk.dropLast() } }
                return String(decoding: chunk, as: UTF8.self)
            }
        case H5T_VLEN:
            // MATLAB_fields: one variable-length sequence of 1-byte characters per name.
            let base = H5Tget_super(type)
            defer { H5Tclose(base) }
            guard H5Tget_size(base) == 1, [H5T_STRING, H5T_INTEGER].contains(H5Tget_class(base)) else {
                throw ReadFault("is a variable-length sequence of something other than characters")
            }
            let mem = H5Tvlen_create(base)
            defer { H5Tclose(mem) }
            var sequences = [hvl_t](repeating: hvl_t(), count: count)
            guard H5Aread(attr, mem, &sequences) >= 0 else { throw ReadFault("cannot be read\(HDF5.lastError())") }
            defer { H5Dvlen_reclaim(mem, space, facec_H5P_DEFAULT(), &sequences) }
            var total = 0
            return try sequences.map { s in
                total += s.len
                guard s.len <= 1 << 16, total <= 1 << 24 else { throw ReadFault("is too large") }
                guard s.len > 0, let p = s.p else { return "" }
                return String(decoding: UnsafeRawBufferPointer(start: p, count: s.len), as: UTF8.self)
            }
        default:
            throw ReadFault("is not a string")
        }
    }

    /// The names of all attributes of `obj` (one pass over its header,
    /// instead of one lookup per attribute asked about).
    static func names(_ obj: hid_t) throws -> Set<String> {
        var names = Set<String>()
        var position: hsize_t = 0
        let status = withUnsafeMutablePointer(to: &names) { context in
            H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &position, { _, name, _, context in
                let names = context!.assumingMemoryBound(to: Set<String>.self)
                guard names.pointee.count < 256, let name else { return 1 }   // stop: implausibly many
                names.pointee.insert(String(cString: name))
                return 0
            }, context)
        }
        guard status >= 0 else { throw ReadFault("has unreadable attributes\(HDF5.lastError())") }
        guard status == 0 else { throw ReadFault("has more than 256 attributes") }
        return names
    }

    /// A scalar (or one-element) integer attribute of `obj`; nil when absent.
    static func integer(_ obj: hid_t, _ name: String) throws -> Int64? {
        try opened(obj, name) { attr, type, space in
            guard H5Sget_simple_extent_npoints(space) == 1 else { throw ReadFault("is not a single value") }
            guard H5Tget_class(type) == H5T_INTEGER else { throw ReadFault("is not an integer") }
            var value: Int64 = 0
            guard H5Aread(attr, facec_H5T_NATIVE_INT64(), &value) >= 0 else { throw ReadFault("cannot be read\(HDF5.lastError())") }
            return value
        }
    }
}

/// Dataset storage, checked before reading.
enum HDF5Storage {
    /// Checks that a dataset's storage holds every element its dataspace
    /// declares before it is read (HDF5 would fill missing chunks with zeros
    /// silently), and refuses storage outside the file (external raw data
    /// could be any file on the machine, copied into the model). `dims`
    /// describe the shape in messages.
    static func check(_ obj: hid_t, dims: [Int], elementBytes: Int) throws {
        let count = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        let (need, overflow) = count.multipliedReportingOverflow(by: elementBytes)
        // Contiguous data in this file (the common case for small arrays) has
        // an address; chunked, compact, external and virtual storage not.
        if H5Dget_offset(obj) != UInt64.max, !overflow, H5Dget_storage_size(obj) == UInt64(need) { return }
        let dcpl = H5Dget_create_plist(obj)
        guard dcpl >= 0 else { throw ReadFault("has unreadable storage properties\(HDF5.lastError())") }
        defer { H5Pclose(dcpl) }
        guard H5Pget_external_count(dcpl) == 0 else { throw ReadFault("keeps its data in an external file, which facec does not read") }
        let described = "\(dims.map(String.init).joined(separator: "×")) elements"
        switch H5Pget_layout(dcpl) {
        case H5D_CHUNKED:
            let rank = max(1, dims.count)
            var chunk = [hsize_t](repeating: 0, count: rank)
            guard H5Pget_chunk(dcpl, Int32(rank), &chunk) == Int32(rank) else { throw ReadFault("has unreadable chunk dimensions") }
            let space = H5Dget_space(obj)
            defer { H5Sclose(space) }
            let extent = try HDF5.extent(space)
            guard extent.count == chunk.count, chunk.allSatisfy({ $0 > 0 }) else { throw ReadFault("has chunks that do not match its rank") }
            var expected: UInt64 = 1
            for (d, c) in zip(extent, chunk) {
                let (r, o) = expected.multipliedReportingOverflow(by: (d + c - 1) / c)
                guard !o else { throw ReadFault("declares \(described) in too many chunks") }
                expected = r
            }
            var stored: hsize_t = 0
            guard H5Dget_num_chunks(obj, space, &stored) >= 0 else { throw ReadFault("has an unreadable chunk index\(HDF5.lastError())") }
            guard stored == expected else {
                throw ReadFault("declares \(described) but stores \(stored) of the \(expected) chunks they need (damaged file?)")
            }
        case H5D_CONTIGUOUS, H5D_COMPACT:
            let stored = H5Dget_storage_size(obj)
            guard !overflow, stored == UInt64(need) else {
                throw ReadFault("declares \(described) (\(overflow ? "too many" : String(need)) bytes) but stores \(stored) bytes (damaged file?)")
            }
        case H5D_VIRTUAL:
            throw ReadFault("is a virtual dataset (mapped from other files), which facec does not read")
        default:
            throw ReadFault("has an unknown storage layout")
        }
    }
}
