import FacecCore
/// A version 1 B-tree ("TREE" nodes): an old-style group's index of symbol
/// nodes (type 0) or a dataset's chunk index (type 1). Keys and children
/// alternate (key 0, child 0, …, key n); each node is visited once and
/// levels must decrease by one on the way down.
enum H5BTree1 {
    /// Calls `leaf` for every level-0 child, in order, with the key before it.
    static func walk(_ file: H5File, _ root: UInt64, type: UInt8, keyBytes: Int, what: String,
                     leaf: (_ key: Range<Int>, _ child: UInt64) throws -> Void) throws {
        var visited: Set<UInt64> = []
        func node(_ address: UInt64, level expected: Int?) throws {
            guard visited.insert(address).inserted else { throw ReadFault("has a \(what) that loops") }
            var c = try file.cursor(at: address)
            guard c.signature("TREE") else { throw ReadFault("has a damaged \(what) (B-tree node)") }
            try c.skip(4)
            guard try c.u8() == type else { throw ReadFault("has a \(what) of the wrong kind") }
            let level = Int(try c.u8()), entries = try c.u16()
            guard expected == nil || level == expected, level < 64 else { throw ReadFault("has a damaged \(what) (levels)") }
            try file.spend(entries + 1)
            _ = try c.offset(); _ = try c.offset()   // siblings
            var children: [(Range<Int>, UInt64)] = []
            for _ in 0..<entries {
                let key = try c.bytes(keyBytes)
                guard let child = try c.offset() else { throw ReadFault("has a \(what) entry without an address") }
                children.append((key, child))
            }
            for (key, child) in children {
                if level > 0 { try node(child, level: level - 1) } else { try leaf(key, child) }
            }
        }
        try node(root, level: nil)
    }
}
