import FacecCore
/// A group member.
package struct H5Link {
    enum Target { case hard(UInt64), soft, external }
    package let name: String
    let target: Target
}

extension H5Object {
    /// Largest number of members read from one group.
    static let maxLinks = 1 << 20

    /// The group's members in name order (byte order, as HDF5 sorts them);
    /// listed once per group (a struct's fields are looked up one by one).
    package func links() throws -> [H5Link] {
        if let cached = file.links[address] { return cached }
        let links = try readLinks()
        if file.links.count > 10_000 { file.links.removeAll() }
        file.links[address] = links
        return links
    }

    private func readLinks() throws -> [H5Link] {
        var links: [H5Link] = []
        if let table = header.first(H5Message.symbolTable) {
            var c = cursor(table)
            guard let tree = try c.offset(), let heap = try c.offset() else { throw ReadFault("has a group without its index") }
            let names = try H5LocalHeap(file: file, address: heap)
            var visited: Set<UInt64> = []
            try H5BTree1.walk(file, tree, type: 0, keyBytes: file.lengthSize, what: "group index") { _, node in
                try symbolTableNode(node, names: names, visited: &visited, into: &links)
            }
        } else {
            var messages = header.all(H5Message.link).map(\.data)
            if let info = header.first(H5Message.linkInfo) {
                // Link info: an 8-byte maximum creation index; heap IDs after a 4-byte name hash.
                messages += try H5DenseStorage.messages(self, info: info, creationIndexBytes: 8, idOffset: 4, of: "link")
            }
            for m in messages {
                var c = H5Cursor(bytes: file.bytes, position: m.lowerBound, end: m.upperBound, offsetSize: file.offsetSize, lengthSize: file.lengthSize)
                links.append(try Self.link(&c))
                guard links.count <= Self.maxLinks else { throw ReadFault("has more than \(Self.maxLinks) members") }
            }
        }
        links.sort { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        return links
    }

    /// Member `name`, following hard links only; nil when there is none.
    package func member(_ name: String) throws -> H5Object? {
        guard let link = try links().first(where: { $0.name == name }) else { return nil }
        switch link.target {
        case .hard(let address): return try H5Object(file: file, address: address)
        case .soft: throw ReadFault("is a soft link, which facec does not follow")
        case .external: throw ReadFault("is a link into another file, which facec does not follow")
        }
    }

    /// A link message (version 1).
    private static func link(_ c: inout H5Cursor) throws -> H5Link {
        guard try c.u8() == 1 else { throw ReadFault("has a link message of unknown version") }
        let flags = try c.u8()
        let type = flags & 0x08 != 0 ? try c.u8() : 0
        if flags & 0x04 != 0 { try c.skip(8) }   // creation order
        if flags & 0x10 != 0 { try c.skip(1) }   // character set
        let length = try c.int(1 << Int(flags & 3), max: 1 << 20)
        guard length > 0, length <= 65_535 else { throw ReadFault("has a link name of \(length) bytes") }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: c.bytes[try c.bytes(length)]), as: UTF8.self)
        switch type {
        case 0:
            guard let address = try c.offset() else { throw ReadFault("link '\(name)' has no address") }
            return H5Link(name: name, target: .hard(address))
        case 1: return H5Link(name: name, target: .soft)
        default: return H5Link(name: name, target: .external)
        }
    }

    private func symbolTableNode(_ address: UInt64, names: H5LocalHeap, visited: inout Set<UInt64>, into links: inout [H5Link]) throws {
        guard visited.insert(address).inserted else { throw ReadFault("has a group index that loops") }
        var c = try file.cursor(at: address)
        guard c.signature("SNOD") else { throw ReadFault("has a damaged group index (symbol node)") }
        try c.skip(4)
        guard try c.u8() == 1 else { throw ReadFault("has a symbol node of unknown version") }
        try c.skip(1)
        let count = try c.u16()
        try file.spend(count + 1)
        for _ in 0..<count {
            let nameOffset = try c.length()
            let object = try c.offset()
            let cacheType = try c.u32()
            try c.skip(4 + 16)
            let name = try names.string(at: nameOffset)
            if cacheType == 2 {
                links.append(H5Link(name: name, target: .soft))
            } else {
                guard let object else { throw ReadFault("member '\(name)' has no address") }
                links.append(H5Link(name: name, target: .hard(object)))
            }
            guard links.count <= Self.maxLinks else { throw ReadFault("has more than \(Self.maxLinks) members") }
        }
    }
}

/// An old-style group's local heap: the members' names.
struct H5LocalHeap {
    package let file: H5File
    let data: Range<Int>

    init(file: H5File, address: UInt64) throws {
        self.file = file
        var c = try file.cursor(at: address)
        guard c.signature("HEAP") else { throw ReadFault("has a damaged group name heap") }
        try c.skip(8)   // signature, version, reserved
        let size = try c.length()
        _ = try c.length()   // free list
        guard let at = try c.offset() else { throw ReadFault("has a group name heap without data") }
        data = try file.range(at: at, count: size)
    }

    package func string(at offset: Int) throws -> String {
        guard offset >= 0, offset < data.count else { throw ReadFault("has a member name outside its name heap") }
        var c = H5Cursor(bytes: file.bytes, position: data.lowerBound + offset, end: data.upperBound, offsetSize: 8, lengthSize: 8)
        let name = try c.cString(limit: 65_536)
        guard !name.isEmpty else { throw ReadFault("has a member with an empty name") }
        return name
    }
}
