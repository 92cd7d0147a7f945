import FacecCore
/// A Level-5 MAT file (MATLAB v5/v6, and v7 with zlib-compressed
/// variables), read by facec itself: strict, bounded, and never trusting a
/// declared size (libmatio crashed, hung and made multi-GB allocations on
/// fuzzed files). MAT v7.3 is HDF5 and goes to `MatV73File`; MAT v4 (no
/// text header) is refused.
///
/// The variable list comes from the top-level element tags (and the first
/// bytes of each compressed variable); `read` parses one variable whole.
package final class MatV5File: MatSource {
    package let path: String
    package var versionName: String { "MAT v5/v7" }
    private let file: MatV5FileHandle
    private let swapped: Bool
    private struct Variable {
        package let name: String
        let offset: Int
        let size: Int
        let compressed: Bool
    }
    private var index: [Variable]?

    static let headerSize = 128
    /// Top-level elements scanned (a MatConvNet file has one or two).
    static let maxTopLevelElements = 1 << 20

    package init(path: String) throws {
        self.path = path
        try checkReadableFile(path)
        let file = try MatV5FileHandle(path: path)
        let notV5 = FacecError(.weights, path, "not a MAT v5/v7 file (MAT v4 and other formats are not read)")
        guard file.size >= Self.headerSize else { throw notV5 }
        var header = [UInt8](repeating: 0, count: Self.headerSize)
        do {
            try header.withUnsafeMutableBytes { try file.read(at: 0, into: $0) }
        } catch let fault as ReadFault {
            throw FacecError(.weights, path, fault.reason)
        }
        // Bytes 126-127 are "IM" as the writer's 16-bit 0x4D49: in the file
        // order "IM" for little-endian writers, "MI" for big-endian ones.
        let fileLittle: Bool
        switch (header[126], header[127]) {
        case (UInt8(ascii: "I"), UInt8(ascii: "M")): fileLittle = true
        case (UInt8(ascii: "M"), UInt8(ascii: "I")): fileLittle = false
        default: throw notV5
        }
        self.file = file
        swapped = fileLittle != (1.littleEndian == 1)
        let version = fileLittle ? UInt16(header[124]) | UInt16(header[125]) << 8 : UInt16(header[124]) << 8 | UInt16(header[125])
        guard version == 0x0100 else {
            throw FacecError(.weights, path, "MAT header version 0x\(String(version, radix: 16)) is not Level 5 (0x0100): not a MAT v5/v7 file")
        }
    }

    package func variableNames() throws -> [String] {
        try variables().map(\.name)
    }

    package func read(_ name: String) throws -> MatNode {
        guard let v = try variables().first(where: { $0.name == name }) else {
            throw FacecError(.weights, path, "no variable '\(name)'")
        }
        do {
            let range = MatV5FileRange(file, from: v.offset + 8, to: v.offset + 8 + v.size)
            let array: MatV5Array
            if v.compressed {
                let inflater = try MatV5Inflater(range)
                var parser = MatV5Parser(inflater, swapped: swapped)
                // Any declared size: the inflater delivers only what exists.
                let tag = try parser.tag(end: Int.max)
                guard tag.type == .matrix, tag.small == nil else { throw ReadFault("its compressed element holds \(tag.typeName), not an array") }
                array = try parser.matrix(size: tag.size, depth: 0)
                // One element per compressed element; bytes after the zlib
                // stream's end (within the element) are ignored, as by MATLAB.
                guard try inflater.endsHere() else {
                    throw ReadFault("its compressed element inflates to more than the \(tag.size) bytes its array declares")
                }
            } else {
                var parser = MatV5Parser(range, swapped: swapped)
                array = try parser.matrix(size: v.size, depth: 0)
            }
            return MatNode(storage: array, path: name, source: self)
        } catch let fault as ReadFault {
            throw FacecError(.weights, path, "\(name)\(fault.within): \(fault.reason)")
        }
    }

    /// The top-level variables, scanned once.
    ///
    /// Decisions: top-level elements other than miMATRIX and miCOMPRESSED
    /// are skipped (they cannot be variables; libmatio skips them too, and
    /// skipping allocates nothing); an empty miMATRIX there has no name and
    /// is skipped too. Bytes after the last element that do not form one
    /// (an element that runs past the end of the file, or fewer than 8
    /// bytes left) are a truncated file, refused. Of two variables with
    /// one name, the first is listed and read.
    private func variables() throws -> [Variable] {
        if let index { return index }
        var found: [Variable] = []
        var seen = Set<String>()
        var offset = Self.headerSize
        var elements = 0
        while offset < file.size {
            elements += 1
            guard elements <= Self.maxTopLevelElements else {
                throw FacecError(.weights, path, "more than \(Self.maxTopLevelElements) top-level elements")
            }
            let left = file.size - offset
            guard left >= 8 else { throw FacecError(.weights, path, "truncated file: \(left) stray bytes at the end (offset \(offset))") }
            var tag = [UInt8](repeating: 0, count: 8)
            do {
                try tag.withUnsafeMutableBytes { try file.read(at: offset, into: $0) }
            } catch let fault as ReadFault {
                throw FacecError(.weights, path, fault.reason)
            }
            let type = word(tag, 0), size = Int(word(tag, 4))
            guard size <= left - 8 else {
                throw FacecError(.weights, path, "truncated file: the element at offset \(offset) declares \(size) bytes but only \(left - 8) follow")
            }
            if size > 0, type == MiType.matrix.rawValue || type == MiType.compressed.rawValue {
                let compressed = type == MiType.compressed.rawValue
                do {
                    let name = try variableName(at: offset, size: size, compressed: compressed)
                    if seen.insert(name).inserted {
                        found.append(Variable(name: name, offset: offset, size: size, compressed: compressed))
                    }
                } catch let fault as ReadFault {
                    throw FacecError(.weights, path, "the variable at offset \(offset): \(fault.reason)")
                }
            }
            offset += 8 + size
        }
        index = found
        return found
    }

    /// The name of the variable at `offset`: its header only (for a
    /// compressed one, the first few hundred inflated bytes).
    private func variableName(at offset: Int, size: Int, compressed: Bool) throws -> String {
        let range = MatV5FileRange(file, from: offset + 8, to: offset + 8 + size)
        if compressed {
            var parser = MatV5Parser(try MatV5Inflater(range), swapped: swapped)
            let tag = try parser.tag(end: Int.max)
            guard tag.type == .matrix, tag.small == nil else {
                throw ReadFault("its compressed element holds \(tag.typeName), not an array (miMATRIX)")
            }
            guard tag.size > 0 else { throw ReadFault("its compressed element holds an empty array without a name") }
            return try parser.header(end: tag.size + 8).name
        }
        var parser = MatV5Parser(range, swapped: swapped)
        return try parser.header(end: size).name
    }

    private func word(_ b: [UInt8], _ at: Int) -> UInt32 {
        let v = UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
        return swapped ? v.byteSwapped : v
    }
}
