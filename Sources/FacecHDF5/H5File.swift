import FacecCore
#if canImport(Glibc)
import Glibc

#endif

/// facec's own reader of the part of HDF5 that Keras (h5py) and MATLAB v7.3
/// writers produce. Debian's libhdf5 1.10 crashes, hangs and allocates
/// gigabytes on damaged files within seconds of fuzzing (Tests/Fuzz/upstream/),
/// and nothing around a library call can make that safe; this reader checks
/// every address, size and count against the file before it uses it, bounds
/// the work per file, and refuses what it does not know with a reason.
///
/// Supported: superblocks 0–3 (behind a user block), object headers v1 and
/// v2 with continuations, old-style groups (symbol table, v1 B-tree, local
/// heap) and new-style groups (link messages, compact or dense in a fractal
/// heap), compact and dense attributes, fixed- and variable-length strings
/// (global heap), integers, IEEE floats, object references, compounds, and
/// contiguous, compact and chunked datasets (v1 B-tree, single-chunk,
/// implicit and fixed-array indexes) with deflate, shuffle and Fletcher-32.
/// Refused with a reason: shared messages, extensible-array and v2 B-tree
/// chunk indexes, external and virtual storage, other filters.
///
/// The file is mapped read-only; `H5File` is not thread-safe (readers call
/// it from one thread; chunk inflation runs on all cores on plain bytes).
package final class H5File {
    package let path: String
    /// The whole file, mapped.
    let bytes: UnsafeRawBufferPointer
    /// Where the superblock is; every address in the file is relative to it
    /// (MAT v7.3 files have a 512-byte user block in front).
    let base: Int
    let offsetSize: Int
    let lengthSize: Int
    let superblockVersion: Int
    /// The root group's object header.
    let rootAddress: UInt64

    /// Parsed object headers by address (each object is parsed once).
    private var headers: [UInt64: H5ObjectHeader] = [:]
    /// Group members by group address.
    package var links: [UInt64: [H5Link]] = [:]
    /// Parsed global heap collections by address.
    var globalHeaps: [UInt64: H5GlobalHeap] = [:]
    /// Structural units (messages, B-tree entries, heap objects) parsed so
    /// far; a hostile file cannot make the reader loop or explode past this.
    private(set) var work = 0
    static let maxWork = 50_000_000

    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    package init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FacecError(.io, path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw FacecError(.weights, path, "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        } else {
            guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
                throw FacecError(.weights, path, "cannot map: \(String(cString: strerror(errno)))")
            }
            bytes = UnsafeRawBufferPointer(start: map, count: size)
        }
        // The superblock is at 0 or at a power of two from 512 on.
        var found: Int?
        var at = 0
        let mapped = bytes
        while at + 8 <= mapped.count {
            if Self.signature.indices.allSatisfy({ mapped[at + $0] == Self.signature[$0] }) { found = at; break }
            at = at == 0 ? 512 : at * 2
        }
        guard let start = found else {
            if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
            throw FacecError(.weights, path, "not an HDF5 file (no HDF5 signature)")
        }
        base = start
        do {
            let sb = try Self.superblock(bytes, at: start)
            (superblockVersion, offsetSize, lengthSize, rootAddress) = sb
        } catch let fault as ReadFault {
            if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
            throw FacecError(.weights, path, fault.reason.hasPrefix("truncated") ? fault.reason : "damaged HDF5 superblock: \(fault.reason)")
        }
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// (version, offset size, length size, root object header address),
    /// after checking that the file is as long as the superblock says.
    private static func superblock(_ bytes: UnsafeRawBufferPointer, at start: Int) throws -> (Int, Int, Int, UInt64) {
        let (version, o, l, root, end) = try superblockFields(bytes, at: start)
        // The end-of-file address counts the user block too (HDF5 1.8–1.10).
        if let end, end > UInt64(bytes.count) {
            throw ReadFault("truncated file: the superblock says \(end) bytes, the file has \(bytes.count)")
        }
        return (version, o, l, root)
    }

    private static func superblockFields(_ bytes: UnsafeRawBufferPointer, at start: Int) throws -> (Int, Int, Int, UInt64, UInt64?) {
        var c = H5Cursor(bytes: bytes, position: start + 8, end: bytes.count, offsetSize: 8, lengthSize: 8)
        let version = Int(try c.u8())
        switch version {
        case 0, 1:
            try c.skip(4)   // free-space, root symbol table and shared-header versions, reserved
            let o = Int(try c.u8()), l = Int(try c.u8())
            guard [2, 4, 8].contains(o), [2, 4, 8].contains(l) else { throw ReadFault("offsets of \(o) and lengths of \(l) bytes") }
            c.offsetSize = o; c.lengthSize = l
            try c.skip(1 + 2 + 2 + 4 + (version == 1 ? 4 : 0))
            _ = try c.offset(); _ = try c.offset()   // base, free space
            let end = try c.offset()
            _ = try c.offset()                       // driver information
            // Root group symbol table entry: name offset, object header address.
            _ = try c.offset()
            guard let root = try c.offset() else { throw ReadFault("no root group") }
            return (version, o, l, root, end)
        case 2, 3:
            let o = Int(try c.u8()), l = Int(try c.u8())
            guard [2, 4, 8].contains(o), [2, 4, 8].contains(l) else { throw ReadFault("offsets of \(o) and lengths of \(l) bytes") }
            c.offsetSize = o; c.lengthSize = l
            try c.skip(1)
            _ = try c.offset(); _ = try c.offset()   // base, extension
            let end = try c.offset()
            guard let root = try c.offset() else { throw ReadFault("no root group") }
            return (version, o, l, root, end)
        default:
            throw ReadFault("superblock version \(version)")
        }
    }

    /// A cursor over `length` bytes at `address`, checked to lie in the file.
    func cursor(at address: UInt64, length: Int) throws -> H5Cursor {
        let start = try position(of: address)
        guard length >= 0, length <= bytes.count - start else {
            throw ReadFault("structure at address 0x\(String(address, radix: 16)) runs past the end of the file (truncated?)")
        }
        return H5Cursor(bytes: bytes, position: start, end: start + length, offsetSize: offsetSize, lengthSize: lengthSize)
    }

    /// A cursor from `address` to the end of the file.
    func cursor(at address: UInt64) throws -> H5Cursor {
        let start = try position(of: address)
        return H5Cursor(bytes: bytes, position: start, end: bytes.count, offsetSize: offsetSize, lengthSize: lengthSize)
    }

    /// The byte position of a file address, checked.
    package func position(of address: UInt64) throws -> Int {
        guard address < UInt64(bytes.count), Int(address) < bytes.count - base else {
            throw ReadFault("refers to address 0x\(String(address, radix: 16)), beyond the end of the file (truncated?)")
        }
        return base + Int(address)
    }

    /// Bytes `[address, address + count)`, checked.
    func range(at address: UInt64, count: Int) throws -> Range<Int> {
        let start = try position(of: address)
        guard count >= 0, count <= bytes.count - start else {
            throw ReadFault("data at address 0x\(String(address, radix: 16)) runs past the end of the file (truncated?)")
        }
        return start..<(start + count)
    }

    /// Drops the mapped pages wholly inside `range` from this process once
    /// their data has been copied out: a full-size model's weights are read
    /// once, and kept mapped they would double its resident memory (the page
    /// cache keeps them; a later access reads them again).
    static func release(_ range: Range<Int>, of bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, range.count >= 1 << 16 else { return }
        let page = systemPageSize()
        let start = (Int(bitPattern: base) + range.lowerBound + page - 1) / page * page
        let end = (Int(bitPattern: base) + range.upperBound) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        madvise(p, end - start, MADV_DONTNEED)
    }

    /// Counts structural units; throws once a file needs implausibly many.
    func spend(_ units: Int = 1) throws {
        work += units
        guard work <= Self.maxWork else { throw ReadFault("has an implausibly complex structure (more than \(Self.maxWork) parts)") }
    }

    /// The object header at `address`, parsed once.
    package func header(at address: UInt64) throws -> H5ObjectHeader {
        if let h = headers[address] { return h }
        let h = try H5ObjectHeader(file: self, address: address)
        if headers.count > 100_000 { headers.removeAll() }
        headers[address] = h
        return h
    }

    package var root: H5Object { get throws { try H5Object(file: self, address: rootAddress) } }

    /// The object at an absolute path such as "/model_weights/conv1"
    /// (hard links only); nil when a component is missing.
    func object(at objectPath: String) throws -> H5Object? {
        var current: H5Object
        do { current = try root } catch let fault as ReadFault { throw ReadFault("root group \(fault.reason)") }
        var prefix = ""
        for part in objectPath.split(separator: "/") {
            prefix += "/" + part
            do {
                guard current.isGroup, let next = try current.member(String(part)) else { return nil }
                current = next
            } catch let fault as ReadFault {
                throw ReadFault("'\(prefix)' \(fault.reason)")
            }
        }
        return current
    }
}

/// Little-endian reads from a bounded range of the mapped file.
struct H5Cursor {
    let bytes: UnsafeRawBufferPointer
    package var position: Int
    let end: Int
    var offsetSize: Int
    var lengthSize: Int

    var remaining: Int { end - position }

    private mutating func take(_ n: Int) throws -> Int {
        guard n >= 0, n <= end - position else { throw ReadFault("is truncated or damaged (a structure ends early)") }
        defer { position += n }
        return position
    }

    mutating func skip(_ n: Int) throws { _ = try take(n) }

    mutating func u8() throws -> UInt8 { bytes[try take(1)] }

    mutating func uint(_ size: Int) throws -> UInt64 {
        let at = try take(size)
        var v: UInt64 = 0
        for k in 0..<min(size, 8) { v |= UInt64(bytes[at + k]) << (8 * k) }
        return v
    }

    /// An unsigned value of `size` bytes that must not exceed `limit` (a
    /// hostile 8-byte field can exceed Int, which would trap).
    mutating func int(_ size: Int, max limit: Int) throws -> Int {
        let v = try uint(size)
        guard v <= UInt64(limit) else { throw ReadFault("has a field of \(v) where at most \(limit) is possible (damaged file?)") }
        return Int(v)
    }

    mutating func u16() throws -> Int { Int(try uint(2)) }
    mutating func u32() throws -> Int { Int(try uint(4)) }

    /// A length, refused when it cannot be a size in this process.
    mutating func length() throws -> Int {
        let v = try uint(lengthSize)
        guard v <= UInt64(Int32.max) * 16 else { throw ReadFault("declares a size of \(v) bytes") }
        return Int(v)
    }

    /// An address; nil for HDF5's "undefined" (all bits set).
    mutating func offset() throws -> UInt64? {
        let v = try uint(offsetSize)
        let undefined = offsetSize >= 8 ? UInt64.max : (UInt64(1) << (8 * offsetSize)) - 1
        return v == undefined ? nil : v
    }

    mutating func bytes(_ n: Int) throws -> Range<Int> {
        let at = try take(n)
        return at..<(at + n)
    }

    /// A NUL-terminated string within the next `limit` bytes (consumed).
    mutating func cString(limit: Int) throws -> String {
        let stop = min(end, position + limit)
        var e = position
        while e < stop, bytes[e] != 0 { e += 1 }
        guard e < stop else { throw ReadFault("has an unterminated name") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<e]), as: UTF8.self)
        position = e + 1
        return s
    }

    func signature(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard remaining >= u.count else { return false }
        return u.indices.allSatisfy { bytes[position + $0] == u[$0] }
    }
}
