import CChecksum
#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 (FIPS 180-4): of a source weight file (recorded in the model's
/// provenance) and of gallery photos; computed in CChecksum (SHA extensions when the CPU has them).
/// Checked against known vectors and sha256sum in tests.
public struct SHA256 {
    private var state = facec_sha256()

    public init() { facec_sha256_init(&state) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        facec_sha256_update(&state, bytes.baseAddress, bytes.count)
    }

    public mutating func finish() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        facec_sha256_final(&state, &digest)
        return digest
    }

    /// Whether this CPU's SHA extensions are used; `usePortable` forces the
    /// portable loop (for tests of both).
    public static var usesExtensions: Bool { facec_sha256_uses_extensions() != 0 }
    public static func usePortable(_ portable: Bool) { facec_sha256_force_portable(portable ? 1 : 0) }

    /// Feeds everything readable from `fd` (in 4 MB chunks); on a read
    /// failure returns its errno and the state is unusable.
    public mutating func update(readingAll fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 1 << 22)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno }
            if n == 0 { return nil }
            buffer.withUnsafeBytes { update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}
