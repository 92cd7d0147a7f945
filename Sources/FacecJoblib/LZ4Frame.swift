import CLZ4
import FacecCore

/// An LZ4 frame (the format of `lz4` and of joblib's `.lz4` files), inflated
/// by Debian's liblz4 in bounded steps: the output never grows past
/// `maxBytes`, whatever the frame header claims, and a frame that stops
/// before its end mark is refused rather than returned in part.
package enum LZ4Frame {
    /// The four bytes every LZ4 frame starts with (0x184D2204, little-endian).
    package static let magic: [UInt8] = [0x04, 0x22, 0x4D, 0x18]

    package static func isFrame(_ bytes: [UInt8]) -> Bool { bytes.starts(with: magic) }

    /// The contents of the single frame `bytes` holds (bytes after it are an error).
    package static func decompress(_ bytes: [UInt8], maxBytes: Int) throws(ReadFault) -> [UInt8] {
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else { throw ReadFault("cannot start an LZ4 decoder") }
        defer { LZ4F_freeDecompressionContext(context) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var consumed = 0
        var hint = 1
        while consumed < bytes.count && hint != 0 {
            var inSize = bytes.count - consumed
            var outSize = chunk.count
            let result = bytes.withUnsafeBytes { src in
                chunk.withUnsafeMutableBytes { dst in
                    LZ4F_decompress(context, dst.baseAddress, &outSize, src.baseAddress! + consumed, &inSize, nil)
                }
            }
            if LZ4F_isError(result) != 0 {
                throw ReadFault("the LZ4 frame is damaged at byte \(consumed) (\(String(cString: LZ4F_getErrorName(result))))")
            }
            consumed += inSize
            guard out.count + outSize <= maxBytes else {
                throw ReadFault("the LZ4 frame inflates to more than \(maxBytes) bytes")
            }
            out.append(contentsOf: chunk[0..<outSize])
            hint = result
            // No progress with input left means liblz4 wants more than there is.
            if inSize == 0 && outSize == 0 && hint != 0 { break }
        }
        guard hint == 0 else { throw ReadFault("the LZ4 frame ends early (after \(bytes.count) bytes; \(out.count) inflated)") }
        guard consumed == bytes.count else {
            throw ReadFault("\(bytes.count - consumed) bytes follow the LZ4 frame's end (one frame expected)")
        }
        return out
    }
}
