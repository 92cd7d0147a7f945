import CChecksum
import FacecCore

/// The fixed 64-byte start of every .fgraph file (little-endian):
///
///     0  8  magic  89 'F' 'G' 'R' 'A' 'P' 'H' 0A
///     8  2  major version   (a reader refuses a newer major)
///    10  2  minor version   (additions only; older readers ignore them)
///    12  4  flags           (0; reserved)
///    16  8  header offset   (= 64)
///    24  8  header length   (protobuf-encoded fgraph.Header)
///    32  8  data offset     (multiple of 64, after the header)
///    40  8  data length     (file size = data offset + data length)
///    48  4  CRC-32C of the header bytes
///    52  4  CRC-32C of the data section
///    56  4  CRC-32C of bytes 0..<56 (this preamble)
///    60  4  reserved (0)
public struct Preamble: Sendable, Equatable {
    public static let size = 64
    public static let magic: [UInt8] = [0x89, 0x46, 0x47, 0x52, 0x41, 0x50, 0x48, 0x0A]
    public static let currentMajor: UInt16 = 1
    public static let currentMinor: UInt16 = 4   // 1.1: the optional face detector; 1.2: f16/int8 weights; 1.3: uint8 input truncation, zero-extending add; 1.4: the MTCNN detector
    /// Every tensor starts at a multiple of this within the data section, and the
    /// data section itself starts at a multiple of it, so an mmap of the file
    /// (page aligned) gives 64-byte aligned tensors: whole cache lines, aligned
    /// SIMD loads.
    public static let dataAlignment = 64
    /// Upper bound for the header: VGG-Face with its 2622 class names needs
    /// ~100 KB, so anything near this is damage or hostility.
    public static let maxHeaderLength = 64 << 20

    public var major: UInt16 = currentMajor
    public var minor: UInt16 = currentMinor
    public var flags: UInt32 = 0
    public var headerOffset: UInt64 = UInt64(size)
    public var headerLength: UInt64
    public var dataOffset: UInt64
    public var dataLength: UInt64
    public var headerCRC: UInt32
    public var dataCRC: UInt32

    public init(headerLength: UInt64, dataOffset: UInt64, dataLength: UInt64,
                headerCRC: UInt32, dataCRC: UInt32) {
        self.headerLength = headerLength; self.dataOffset = dataOffset
        self.dataLength = dataLength; self.headerCRC = headerCRC; self.dataCRC = dataCRC
    }

    public func encoded() -> [UInt8] {
        var bytes = Preamble.magic
        bytes.reserveCapacity(Preamble.size)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        put(major); put(minor); put(flags)
        put(headerOffset); put(headerLength); put(dataOffset); put(dataLength)
        put(headerCRC); put(dataCRC)
        let selfCRC = bytes.withUnsafeBytes { facec_crc32c(0, $0.baseAddress, $0.count) }
        put(selfCRC); put(UInt32(0))
        return bytes
    }

    /// Decodes and checks the preamble itself (magic, version, own checksum);
    /// offsets against the file size are checked by the caller.
    public static func decode(_ raw: UnsafeRawBufferPointer, path: String) throws -> Preamble {
        guard raw.count >= size else {
            throw FacecError(.model, path, "not a facec model: \(raw.count) bytes, shorter than the \(size)-byte preamble")
        }
        guard Array(raw[0..<8]) == magic else {
            throw FacecError(.model, path, "not a facec model (no .fgraph magic at the start)")
        }
        func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self))
        }
        let major = get(8, UInt16.self), minor = get(10, UInt16.self)
        guard major == currentMajor else {
            if major > currentMajor {
                throw FacecError(.model, path, "model format \(major).\(minor) is newer than this facec reads (\(currentMajor).x); upgrade facec")
            }
            throw FacecError(.model, path, "model format \(major).\(minor) is not supported (this facec reads \(currentMajor).x)")
        }
        let stored = get(56, UInt32.self)
        let actual = facec_crc32c(0, raw.baseAddress, 56)
        guard stored == actual else {
            throw FacecError(.model, path, "damaged model file: preamble checksum mismatch")
        }
        // Reserved means zero: a later version may give these a meaning that
        // this reader would silently ignore.
        guard get(12, UInt32.self) == 0, get(60, UInt32.self) == 0 else {
            throw FacecError(.model, path, "invalid model file: reserved preamble fields are not zero (flags \(get(12, UInt32.self)), word 60: \(get(60, UInt32.self)))")
        }
        var p = Preamble(headerLength: get(24, UInt64.self), dataOffset: get(32, UInt64.self),
                         dataLength: get(40, UInt64.self), headerCRC: get(48, UInt32.self),
                         dataCRC: get(52, UInt32.self))
        p.major = major; p.minor = minor
        p.flags = get(12, UInt32.self)
        p.headerOffset = get(16, UInt64.self)
        return p
    }
}

/// CRC-32C over a buffer (hardware accelerated where available).
public func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    facec_crc32c(crc, bytes.baseAddress, bytes.count)
}
