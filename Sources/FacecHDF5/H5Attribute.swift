import FacecCore
/// One attribute: its type, shape and the bytes of its value in the file.
package struct H5Attribute {
    package let name: String
    package let type: H5Datatype
    let space: H5Dataspace
    let data: Range<Int>
}

extension H5Object {
    /// The attributes: compact ones in the header, dense ones in a fractal heap.
    package func attributes() throws -> [H5Attribute] {
        var messages = header.all(H5Message.attribute)
        if let info = header.first(H5Message.attributeInfo) {
            // Attribute info: a 2-byte maximum creation index; heap IDs first in the records.
            messages += try H5DenseStorage.messages(self, info: info, creationIndexBytes: 2, idOffset: 0, of: "attribute")
                .map { H5Message(type: H5Message.attribute, flags: 0, data: $0) }
        }
        return try messages.map { try attribute($0) }
    }

    func attribute(_ name: String) throws -> H5Attribute? {
        try attributes().first { $0.name == name }
    }

    /// An attribute message, versions 1–3.
    private func attribute(_ m: H5Message) throws -> H5Attribute {
        guard !m.isShared else { throw ReadFault("has a shared attribute, which facec does not read") }
        var c = cursor(m)
        let version = try c.u8()
        guard (1...3).contains(version) else { throw ReadFault("has an attribute of unknown version \(version)") }
        let flags = try c.u8()
        guard flags & 0x03 == 0 else { throw ReadFault("has an attribute with a shared datatype or dataspace, which facec does not read") }
        let nameSize = try c.u16(), typeSize = try c.u16(), spaceSize = try c.u16()
        if version == 3 { try c.skip(1) }   // name character set
        func padded(_ n: Int) -> Int { version == 1 ? (n + 7) & ~7 : n }
        let nameRange = try c.bytes(padded(nameSize))
        var nameBytes = UnsafeRawBufferPointer(rebasing: file.bytes[nameRange.lowerBound..<(nameRange.lowerBound + nameSize)])
        if let nul = nameBytes.firstIndex(of: 0) { nameBytes = UnsafeRawBufferPointer(rebasing: nameBytes[..<nul]) }
        let name = String(decoding: nameBytes, as: UTF8.self)
        var t = H5Cursor(bytes: file.bytes, position: c.position, end: c.position + min(typeSize, c.remaining),
                         offsetSize: c.offsetSize, lengthSize: c.lengthSize)
        let type = try H5Datatype.parse(&t)
        try c.skip(padded(typeSize))
        var s = H5Cursor(bytes: file.bytes, position: c.position, end: c.position + min(spaceSize, c.remaining),
                         offsetSize: c.offsetSize, lengthSize: c.lengthSize)
        let space = try H5Dataspace.parse(&s)
        try c.skip(padded(spaceSize))
        guard let count = space.count, count <= 1 << 24 else { throw ReadFault("attribute '\(name)' has too many elements") }
        let need = count * type.storedSize(offsetSize: file.offsetSize)
        guard need <= c.remaining else { throw ReadFault("attribute '\(name)' holds less data than its shape needs (damaged file?)") }
        return H5Attribute(name: name, type: type, space: space, data: try c.bytes(need))
    }
}

extension H5Attribute {
    /// The values of a string or string-array attribute: fixed-length (any
    /// padding), variable-length strings, or MATLAB's variable-length
    /// sequences of one-byte characters. An empty non-string array (how old
    /// Keras wrote empty `weight_names`) reads as [].
    package func strings(in file: H5File) throws -> [String] {
        guard let count = space.count, count > 0 else { return [] }
        guard count <= 1 << 20 else { throw ReadFault("has \(count) elements") }
        switch type {
        case .string(let size, let spacePadded):
            return (0..<count).map { i in
                let start = data.lowerBound + i * size
                var chunk = UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + size)])
                if let end = chunk.firstIndex(of: 0) { chunk = UnsafeRawBufferPointer(rebasing: chunk[..<end]) }
                if spacePadded { while chunk.last == 0x20 { chunk = UnsafeRawBufferPointer(rebasing: chunk.dropLast()) } }
                return String(decoding: chunk, as: UTF8.self)
            }
        case .variableString:
            return try variableElements(file, count).map { String(decoding: UnsafeRawBufferPointer(rebasing: file.bytes[$0]), as: UTF8.self) }
        case .variableSequence(let base):
            guard base.size == 1, base.isInteger || base == .string(size: 1, spacePadded: false) || base == .string(size: 1, spacePadded: true) else {
                throw ReadFault("is a variable-length sequence of something other than characters")
            }
            return try variableElements(file, count).map { String(decoding: UnsafeRawBufferPointer(rebasing: file.bytes[$0]), as: UTF8.self) }
        default:
            throw ReadFault("is not a string")
        }
    }

    /// The heap bytes of each variable-length element (4-byte length, then
    /// the global heap collection's address and the object's index).
    private func variableElements(_ file: H5File, _ count: Int) throws -> [Range<Int>] {
        var c = H5Cursor(bytes: file.bytes, position: data.lowerBound, end: data.upperBound,
                         offsetSize: file.offsetSize, lengthSize: file.lengthSize)
        var total = 0
        var result: [Range<Int>] = []
        for _ in 0..<count {
            let length = try c.u32()
            let collection = try c.offset()
            let index = try c.u32()
            guard length > 0, let collection else { result.append(0..<0); continue }
            let object = try file.globalHeapObject(collection, index: index)
            guard object.count >= length else { throw ReadFault("has a string longer than its heap object (damaged file?)") }
            total += length
            guard length <= 1 << 20, total <= 1 << 26 else { throw ReadFault("is too large") }
            result.append(object.lowerBound..<(object.lowerBound + length))
        }
        return result
    }

    /// A single integer value.
    package func integer(in file: H5File) throws -> Int64 {
        guard space.count == 1 else { throw ReadFault("is not a single value") }
        guard case .integer = type else { throw ReadFault("is not an integer") }
        return try H5Convert.integers(UnsafeRawBufferPointer(rebasing: file.bytes[data]), type, count: 1)[0]
    }
}

/// A global heap collection: the objects of variable-length data.
struct H5GlobalHeap {
    /// Object index → its bytes in the file.
    let objects: [Int: Range<Int>]

    init(file: H5File, address: UInt64) throws {
        var c = try file.cursor(at: address)
        guard c.signature("GCOL") else { throw ReadFault("has variable-length data pointing outside a global heap (damaged file?)") }
        try c.skip(8)   // signature, version, reserved
        let size = try c.length()
        guard size >= 16 + c.lengthSize, size - 8 - c.lengthSize <= c.remaining else { throw ReadFault("has a damaged global heap collection") }
        var body = H5Cursor(bytes: file.bytes, position: c.position, end: c.position + size - 8 - c.lengthSize,
                            offsetSize: c.offsetSize, lengthSize: c.lengthSize)
        var objects: [Int: Range<Int>] = [:]
        while body.remaining >= 8 + c.lengthSize {
            try file.spend()
            let index = try body.u16()
            try body.skip(6)   // reference count, reserved
            let length = try body.length()
            if index == 0 { break }   // free space: the rest of the collection
            guard length <= body.remaining else { throw ReadFault("has a damaged global heap object") }
            objects[index] = try body.bytes(length)
            try body.skip(min(body.remaining, (8 - length % 8) % 8))
        }
        self.objects = objects
    }
}

extension H5File {
    func globalHeapObject(_ address: UInt64, index: Int) throws -> Range<Int> {
        let heap: H5GlobalHeap
        if let h = globalHeaps[address] { heap = h } else {
            heap = try H5GlobalHeap(file: self, address: address)
            globalHeaps[address] = heap
        }
        guard let object = heap.objects[index] else { throw ReadFault("refers to a missing global heap object (damaged file?)") }
        return object
    }
}
