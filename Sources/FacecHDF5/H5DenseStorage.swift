import FacecCore
extension H5DenseStorage {
    /// The dense messages an attribute or link info message points at (none
    /// when its heap address is undefined: everything is in the header).
    /// Both start with a version, flags and, when flag bit 0 is set, the
    /// maximum creation index.
    static func messages(_ object: H5Object, info: H5Message, creationIndexBytes: Int, idOffset: Int, of what: String) throws -> [Range<Int>] {
        var c = object.cursor(info)
        try c.skip(1)
        if try c.u8() & 1 != 0 { try c.skip(creationIndexBytes) }
        guard let heap = try c.offset() else { return [] }
        guard let index = try c.offset() else { throw ReadFault("has dense \(what) storage without its name index") }
        return try H5DenseStorage(file: object.file, heap: heap, index: index, idOffset: idOffset).messages
    }
}

/// Dense storage of links or attributes (new-style groups with more than 8
/// members, groups holding external links, files written with
/// libver='latest' or track_order): the messages live in a fractal heap,
/// found through the heap IDs in a version 2 B-tree's records.
struct H5DenseStorage {
    /// The byte ranges of every stored message, in B-tree (hash) order.
    let messages: [Range<Int>]

    /// `idOffset`: where the heap ID lies in each B-tree record (links:
    /// after the 4-byte name hash; attributes: first).
    init(file: H5File, heap heapAddress: UInt64, index indexAddress: UInt64, idOffset: Int) throws {
        let heap = try H5FractalHeap(file: file, address: heapAddress)
        let records = try H5BTree2.records(file: file, address: indexAddress)
        messages = try records.map { record in
            guard idOffset + heap.idLength <= record.count else { throw ReadFault("has a damaged dense storage index") }
            return try heap.object(id: record.lowerBound + idOffset)
        }
    }
}

/// A fractal heap: objects in direct blocks, reached through a doubling
/// table of indirect blocks. Only managed and tiny objects are read.
struct H5FractalHeap {
    package let file: H5File
    let idLength: Int
    private let offsetBytes: Int
    private let lengthBytes: Int
    /// Direct blocks by heap offset: (heap offset, size, file position of the block).
    private let blocks: [(offset: Int, size: Int, position: Int)]

    init(file: H5File, address: UInt64) throws {
        self.file = file
        var c = try file.cursor(at: address)
        guard c.signature("FRHP") else { throw ReadFault("has a damaged fractal heap") }
        try c.skip(4)
        guard try c.u8() == 0 else { throw ReadFault("has a fractal heap of unknown version") }
        idLength = try c.u16()
        let filterLength = try c.u16()
        guard filterLength == 0 else { throw ReadFault("has a filtered fractal heap, which facec does not read") }
        let flags = try c.u8()
        let maxManaged = try c.u32()
        _ = try c.length(); _ = try c.offset()            // huge objects
        _ = try c.length(); _ = try c.offset()            // free space
        try c.skip(4 * c.lengthSize)                      // managed space, allocated, iterator, count
        try c.skip(4 * c.lengthSize)                      // huge and tiny sizes and counts
        let width = try c.u16()
        let start = try c.length(), maxDirect = try c.length()
        let maxHeapBits = try c.u16()
        _ = try c.u16()                                   // starting rows
        let root = try c.offset()
        let rows = try c.u16()
        guard (1...65_536).contains(width), width.nonzeroBitCount == 1, start >= 64, start.nonzeroBitCount == 1, maxDirect >= start, maxDirect.nonzeroBitCount == 1,
              maxDirect <= 1 << 30, (8...64).contains(maxHeapBits), rows <= 64 else {
            throw ReadFault("has a fractal heap with an impossible doubling table")
        }
        offsetBytes = (maxHeapBits + 7) / 8
        let directBits = maxDirect.trailingZeroBitCount
        lengthBytes = min((directBits + 7) / 8, Self.encodedSize(UInt64(maxManaged)))
        guard idLength >= 1 + offsetBytes + lengthBytes, idLength <= 64 else { throw ReadFault("has fractal heap IDs of \(idLength) bytes") }
        let table = DoublingTable(width: width, start: start, maxDirect: maxDirect, offsetBytes: offsetBytes, checksummed: flags & 2 != 0)
        var blocks: [(Int, Int, Int)] = []
        if let root {
            var visited: Set<UInt64> = []
            if rows == 0 {
                blocks.append((0, start, try file.range(at: root, count: start).lowerBound))
            } else {
                try table.indirect(file, root, rows: rows, heapOffset: 0, depth: 0, visited: &visited, into: &blocks)
            }
        }
        self.blocks = blocks.sorted { $0.0 < $1.0 }
    }

    /// H5VM_limit_enc_size: bytes that hold any value up to `v`.
    static func encodedSize(_ v: UInt64) -> Int { (v == 0 ? 0 : 63 - v.leadingZeroBitCount) / 8 + 1 }

    /// The bytes of the object whose heap ID starts at file position `at`.
    func object(id at: Int) throws -> Range<Int> {
        var c = H5Cursor(bytes: file.bytes, position: at, end: at + idLength, offsetSize: file.offsetSize, lengthSize: file.lengthSize)
        let flags = try c.u8()
        guard flags >> 6 == 0 else { throw ReadFault("has a fractal heap ID of unknown version") }
        switch (flags >> 4) & 3 {
        case 0:
            let offset = try c.int(offsetBytes, max: Int.max / 2), length = try c.int(lengthBytes, max: 1 << 31)
            // The last block starting at or before the offset.
            var lo = 0, hi = blocks.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if blocks[mid].offset <= offset { lo = mid + 1 } else { hi = mid }
            }
            guard lo > 0 else { throw ReadFault("refers to a missing fractal heap object") }
            let block = blocks[lo - 1]
            let within = offset - block.offset
            guard within >= 0, length >= 0, within <= block.size, length <= block.size - within else {
                throw ReadFault("refers to a fractal heap object outside its block")
            }
            return (block.position + within)..<(block.position + within + length)
        case 2:
            let length = Int(flags & 0x0F) + 1
            guard length <= idLength - 1 else { throw ReadFault("has a damaged tiny heap object") }
            return (at + 1)..<(at + 1 + length)
        default:
            throw ReadFault("stores a huge fractal heap object, which facec does not read")
        }
    }

    /// Block sizes by row: rows 0 and 1 start-sized, then doubling.
    private struct DoublingTable {
        let width: Int, start: Int, maxDirect: Int, offsetBytes: Int, checksummed: Bool

        func rowSize(_ row: Int) -> Int { row < 2 ? start : start << (row - 1) }
        var directRows: Int { maxDirect.trailingZeroBitCount - start.trailingZeroBitCount + 2 }

        /// Collects the direct blocks below an indirect block of `rows` rows
        /// that covers heap offsets from `heapOffset`.
        func indirect(_ file: H5File, _ address: UInt64, rows: Int, heapOffset: Int, depth: Int, visited: inout Set<UInt64>,
                      into blocks: inout [(Int, Int, Int)]) throws {
            guard depth < 16, visited.insert(address).inserted else { throw ReadFault("has a fractal heap that loops") }
            var c = try file.cursor(at: address)
            guard c.signature("FHIB") else { throw ReadFault("has a damaged fractal heap indirect block") }
            try c.skip(5)
            _ = try c.offset()             // heap header
            try c.skip(offsetBytes)        // block offset
            var offset = heapOffset
            for row in 0..<rows {
                let size = rowSize(row)
                for _ in 0..<width {
                    try file.spend()
                    let child = try c.offset()
                    if row < directRows {
                        if let child {
                            let range = try file.range(at: child, count: size)
                            blocks.append((offset, size, range.lowerBound))
                            guard blocks.count <= 1 << 20 else { throw ReadFault("has more than 2^20 fractal heap blocks") }
                        }
                    } else if let child {
                        // An indirect child covers `size` bytes in rows of its own.
                        let childRows = size.trailingZeroBitCount - (start * width).trailingZeroBitCount + 1
                        guard childRows > 0, childRows <= rows else { throw ReadFault("has a damaged fractal heap doubling table") }
                        try indirect(file, child, rows: childRows, heapOffset: offset, depth: depth + 1, visited: &visited, into: &blocks)
                    }
                    let (next, overflow) = offset.addingReportingOverflow(size)
                    guard !overflow else { throw ReadFault("has a fractal heap larger than memory") }
                    offset = next
                }
            }
        }
    }
}

/// A version 2 B-tree's records, in order (their meaning is the caller's).
enum H5BTree2 {
    static func records(file: H5File, address: UInt64) throws -> [Range<Int>] {
        var c = try file.cursor(at: address)
        guard c.signature("BTHD") else { throw ReadFault("has a damaged dense storage index (v2 B-tree)") }
        try c.skip(4)
        guard try c.u8() == 0 else { throw ReadFault("has a v2 B-tree of unknown version") }
        let type = Int(try c.u8())
        let nodeSize = try c.u32(), recordSize = try c.u16(), depth = try c.u16()
        try c.skip(2)
        let root = try c.offset()
        let rootCount = try c.u16()
        guard nodeSize >= 32, nodeSize <= 1 << 20, recordSize > 0, recordSize <= nodeSize, depth < 16 else {
            throw ReadFault("has a v2 B-tree with impossible node sizes")
        }
        guard let root else { return [] }
        // Bytes of the record counts in child pointers, as HDF5 derives them.
        var maxRecords = [(nodeSize - 10) / recordSize]
        var cumulative = [maxRecords[0]]
        var cumulativeBytes = [0]
        let countBytes = H5FractalHeap.encodedSize(UInt64(maxRecords[0]))
        for d in stride(from: 1, through: depth, by: 1) {
            let pointer = file.offsetSize + countBytes + (d > 1 ? cumulativeBytes[d - 1] : 0)
            let m = (nodeSize - (10 + pointer)) / (recordSize + pointer)
            guard m > 0 else { throw ReadFault("has a v2 B-tree with impossible node sizes") }
            maxRecords.append(m)
            let (r1, o1) = (m + 1).multipliedReportingOverflow(by: cumulative[d - 1])
            cumulative.append(o1 ? Int.max / 2 : min(Int.max / 2, r1 + m))
            cumulativeBytes.append(H5FractalHeap.encodedSize(UInt64(cumulative[d])))
        }
        var out: [Range<Int>] = []
        var visited: Set<UInt64> = []
        func node(_ address: UInt64, count: Int, depth d: Int) throws {
            guard visited.insert(address).inserted else { throw ReadFault("has a v2 B-tree that loops") }
            guard count <= maxRecords[d] else { throw ReadFault("has a v2 B-tree node with too many records") }
            try file.spend(count + 1)
            var n = try file.cursor(at: address, length: nodeSize)
            guard n.signature(d == 0 ? "BTLF" : "BTIN") else { throw ReadFault("has a damaged v2 B-tree node") }
            try n.skip(5)
            guard Int(try n.u8()) == type else { throw ReadFault("has a v2 B-tree node of the wrong type") }
            var records: [Range<Int>] = []
            for _ in 0..<count { records.append(try n.bytes(recordSize)) }
            if d == 0 { out += records; return }
            var children: [(UInt64, Int)] = []
            for _ in 0...count {
                guard let child = try n.offset() else { throw ReadFault("has a v2 B-tree child without an address") }
                let childCount = try n.int(countBytes, max: 1 << 20)
                if d > 1 { try n.skip(cumulativeBytes[d - 1]) }
                children.append((child, childCount))
            }
            for (i, (child, childCount)) in children.enumerated() {
                try node(child, count: childCount, depth: d - 1)
                if i < records.count { out.append(records[i]) }
            }
        }
        try node(root, count: rootCount, depth: depth)
        return out
    }
}
