import FacecCore
/// One header message: its type and where its data lies in the file.
package struct H5Message {
    package let type: Int
    let flags: UInt8
    let data: Range<Int>

    /// Message types facec reads.
    package static let dataspace = 0x01, linkInfo = 0x02, datatype = 0x03, link = 0x06, external = 0x07, layout = 0x08
    static let filters = 0x0B, attribute = 0x0C, continuation = 0x10, symbolTable = 0x11, attributeInfo = 0x15

    /// Flag bit 1: the message lives elsewhere (a shared or committed one).
    var isShared: Bool { flags & 0x02 != 0 }
}

/// An object header (v1 or v2) with all its messages, continuation blocks
/// followed (each at most once, in bounded number).
package struct H5ObjectHeader {
    let messages: [H5Message]

    static let maxBlocks = 4096

    init(file: H5File, address: UInt64) throws {
        var messages: [H5Message] = []
        var pending: [(UInt64, Int)] = []
        var seen: Set<UInt64> = [address]
        var c = try file.cursor(at: address)
        let isV2 = c.signature("OHDR")
        var flags: UInt8 = 0
        if isV2 {
            try c.skip(4)
            guard try c.u8() == 2 else { throw ReadFault("has an object header of unknown version") }
            flags = try c.u8()
            if flags & 0x20 != 0 { try c.skip(16) }   // times
            if flags & 0x10 != 0 { try c.skip(4) }    // attribute storage phase change
            // Chunk 0's size counts its messages; its checksum follows.
            let size = try c.int(1 << Int(flags & 3), max: Int(Int32.max))
            guard size <= c.remaining - 4 else { throw ReadFault("has an object header that runs past the end of the file (truncated?)") }
            try Self.v2Messages(file, c.bytes(size + 4), flags, into: &messages, continuations: &pending)
        } else {
            guard try c.u8() == 1 else { throw ReadFault("has no valid object header at address 0x\(String(address, radix: 16))") }
            try c.skip(1)
            _ = try c.u16()        // message count (not trusted: the blocks' sizes bound the walk)
            try c.skip(4)          // reference count
            let size = try c.u32()
            try c.skip(4)          // padding to 8
            guard size <= c.remaining else { throw ReadFault("has an object header that runs past the end of the file (truncated?)") }
            try Self.v1Messages(file, c.bytes(size), into: &messages, continuations: &pending)
        }
        var blocks = 0
        while let (at, length) = pending.popLast() {
            blocks += 1
            guard blocks <= Self.maxBlocks else { throw ReadFault("has more than \(Self.maxBlocks) object header blocks") }
            guard seen.insert(at).inserted else { throw ReadFault("has an object header continuing into itself (a cycle)") }
            var b = try file.cursor(at: at, length: length)
            if isV2 {
                guard b.signature("OCHK") else { throw ReadFault("has a damaged object header continuation block") }
                try b.skip(4)
                try Self.v2Messages(file, b.bytes(b.remaining), flags, into: &messages, continuations: &pending)
            } else {
                try Self.v1Messages(file, b.bytes(b.remaining), into: &messages, continuations: &pending)
            }
        }
        self.messages = messages
    }

    /// v1 messages: type (2), size (2), flags (1), reserved (3), data.
    private static func v1Messages(_ file: H5File, _ range: Range<Int>, into messages: inout [H5Message],
                                   continuations: inout [(UInt64, Int)]) throws {
        var c = H5Cursor(bytes: file.bytes, position: range.lowerBound, end: range.upperBound,
                         offsetSize: file.offsetSize, lengthSize: file.lengthSize)
        while c.remaining >= 8 {
            try file.spend()
            let type = try c.u16(), size = try c.u16(), flags = try c.u8()
            try c.skip(3)
            let data = try c.bytes(size)
            try add(file, H5Message(type: type, flags: flags, data: data), &messages, &continuations)
        }
    }

    /// v2 messages: type (1), size (2), flags (1), [creation order (2)],
    /// data; the block ends with a 4-byte checksum (and maybe a gap).
    private static func v2Messages(_ file: H5File, _ range: Range<Int>, _ headerFlags: UInt8, into messages: inout [H5Message],
                                   continuations: inout [(UInt64, Int)]) throws {
        guard range.count >= 4 else { throw ReadFault("has a damaged object header") }
        var c = H5Cursor(bytes: file.bytes, position: range.lowerBound, end: range.upperBound - 4,
                         offsetSize: file.offsetSize, lengthSize: file.lengthSize)
        let headerSize = headerFlags & 0x04 != 0 ? 6 : 4
        while c.remaining >= headerSize {
            try file.spend()
            let type = Int(try c.u8()), size = try c.u16(), flags = try c.u8()
            if headerFlags & 0x04 != 0 { try c.skip(2) }
            let data = try c.bytes(size)
            try add(file, H5Message(type: type, flags: flags, data: data), &messages, &continuations)
        }
    }

    private static func add(_ file: H5File, _ m: H5Message, _ messages: inout [H5Message],
                            _ continuations: inout [(UInt64, Int)]) throws {
        // Flag bit 3 (v1/v2: fail if unknown and writing) is harmless for a
        // reader; bit 7 asks a reader that does not know the type to fail.
        let known: Set<Int> = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E,
                               0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16]
        if m.flags & 0x80 != 0, !known.contains(m.type) {
            throw ReadFault("has an object header message of type \(m.type) that readers must understand")
        }
        if m.type == H5Message.continuation {
            var c = H5Cursor(bytes: file.bytes, position: m.data.lowerBound, end: m.data.upperBound,
                             offsetSize: file.offsetSize, lengthSize: file.lengthSize)
            guard let at = try c.offset() else { throw ReadFault("has an object header continuation without an address") }
            continuations.append((at, try c.length()))
        } else if m.type != 0 {
            messages.append(m)
        }
    }

    package func first(_ type: Int) -> H5Message? { messages.first { $0.type == type } }
    func all(_ type: Int) -> [H5Message] { messages.filter { $0.type == type } }
}

/// An object (group, dataset or named datatype) of an `H5File`.
package struct H5Object {
    package let file: H5File
    /// The address of its header: its identity (object references hold it).
    package let address: UInt64
    package let header: H5ObjectHeader

    package init(file: H5File, address: UInt64) throws {
        self.file = file
        self.address = address
        self.header = try file.header(at: address)
    }

    package var isGroup: Bool {
        header.first(H5Message.symbolTable) != nil || header.first(H5Message.linkInfo) != nil || header.first(H5Message.link) != nil
    }

    package var isDataset: Bool { header.first(H5Message.layout) != nil }

    /// A cursor over one message's data.
    func cursor(_ m: H5Message) -> H5Cursor {
        H5Cursor(bytes: file.bytes, position: m.data.lowerBound, end: m.data.upperBound,
                 offsetSize: file.offsetSize, lengthSize: file.lengthSize)
    }

    /// The one message of `type` a dataset needs, unshared.
    func required(_ type: Int, _ what: String) throws -> H5Message {
        guard let m = header.first(type) else { throw ReadFault("has no \(what)") }
        guard !m.isShared else { throw ReadFault("has a shared (committed) \(what), which facec does not read") }
        return m
    }
}
