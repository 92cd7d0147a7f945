import FGraphSchema

/// A .fgraph file's bytes taken apart, for editing its header as protobuf-c's
/// structure and putting it back together with every length, offset and
/// checksum recomputed: files that are intact as bytes but wrong in meaning.
/// The structure-aware fuzz target and the hostile-model tests use it; the
/// runtime never does.
public struct RawModelFile: Sendable {
    /// The 64-byte preamble as read (version, flags and reserved words are kept by `sealed`).
    public var preamble: [UInt8]
    public var header: [UInt8]
    public var data: [UInt8]

    /// Splits `bytes`; nil when the preamble's ranges do not lie in them.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= Preamble.size else { return nil }
        func word(_ at: Int) -> Int? {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * k) }
            return v > UInt64(bytes.count) ? nil : Int(v)
        }
        guard let ho = word(16), let hl = word(24), let dof = word(32), let dl = word(40),
              hl <= bytes.count - ho, dl <= bytes.count - dof else { return nil }
        preamble = Array(bytes[0..<Preamble.size])
        header = Array(bytes[ho..<(ho + hl)])
        data = Array(bytes[dof..<(dof + dl)])
    }

    /// Decodes the header, lets `edit` change the message in place, and
    /// encodes it again; false (nothing changed) when the header does not
    /// decode. `edit` may change numbers, reorder the message's own pointers
    /// and change string bytes in place, but must not allocate or free.
    @discardableResult
    public mutating func editHeader(_ edit: (UnsafeMutablePointer<Fgraph__Header>) -> Void) -> Bool {
        let message = header.withUnsafeBufferPointer { fgraph__header__unpack(nil, $0.count, $0.baseAddress) }
        guard let message else { return false }
        defer { fgraph__header__free_unpacked(message, nil) }
        edit(message)
        let size = fgraph__header__get_packed_size(message)
        var packed = [UInt8](repeating: 0, count: size)
        _ = packed.withUnsafeMutableBufferPointer { fgraph__header__pack(message, $0.baseAddress) }
        header = packed
        return true
    }

    /// The whole file: preamble (with the header length, data offset and
    /// length and all three CRC-32C fields recomputed), header, padding to
    /// the data alignment, data.
    public func sealed() -> [UInt8] {
        let dataOffset = (Preamble.size + header.count + Preamble.dataAlignment - 1) / Preamble.dataAlignment * Preamble.dataAlignment
        var out = preamble
        func put64(_ at: Int, _ v: Int) { for k in 0..<8 { out[at + k] = UInt8(truncatingIfNeeded: UInt64(v) >> (8 * k)) } }
        func put32(_ at: Int, _ v: UInt32) { for k in 0..<4 { out[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
        put64(16, Preamble.size)
        put64(24, header.count)
        put64(32, dataOffset)
        put64(40, data.count)
        put32(48, header.withUnsafeBytes { crc32c($0) })
        put32(52, data.withUnsafeBytes { crc32c($0) })
        put32(56, out.withUnsafeBytes { crc32c(UnsafeRawBufferPointer(rebasing: $0[0..<56])) })
        out += header
        out += [UInt8](repeating: 0, count: dataOffset - out.count)
        out += data
        return out
    }
}
