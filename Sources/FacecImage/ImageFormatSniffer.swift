/// Names a file's format from its first bytes, as cv2.imread chooses its
/// decoder: a PNG or a WebP saved with a .jpg name (common in real photo sets)
/// is decoded as what it is, and anything else is refused with a message that
/// says what it is, instead of libjpeg's "Not a JPEG file: starts with 0x89 0x50".
enum ImageFormat: Equatable, Sendable {
    case jpeg
    case png
    case webp
    case empty
    /// Recognised, but not something this decoder reads; the string names it.
    case other(String)
    case unknown(firstBytes: [UInt8])

    /// Human-readable reason for refusing the file, or nil for JPEG, PNG and WebP.
    var refusal: String? {
        switch self {
        case .jpeg, .png, .webp: return nil
        case .empty: return "empty file (0 bytes)"
        case .other(let name): return "unsupported image format: the file is \(name) (facec reads JPEG, PNG and WebP)"
        case .unknown(let bytes):
            let shown = bytes.map(hex2).joined(separator: " ")
            return "unknown image format (first bytes: \(shown); facec reads JPEG, PNG and WebP)"
        }
    }
}

enum ImageFormatSniffer {
    static func sniff(_ b: UnsafeRawBufferPointer) -> ImageFormat {
        let n = b.count
        if n == 0 { return .empty }
        func at(_ i: Int) -> UInt8 { i < n ? b[i] : 0 }
        func has(_ sig: [UInt8], at off: Int = 0) -> Bool {
            guard off + sig.count <= n else { return false }
            for (i, v) in sig.enumerated() where b[off + i] != v { return false }
            return true
        }
        func ascii(_ s: String, at off: Int = 0) -> Bool { has(Array(s.utf8), at: off) }

        // JPEG: the SOI marker. Anything damaged after it is for libjpeg to report.
        if has([0xFF, 0xD8]) { return .jpeg }
        if has([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if ascii("GIF87a") || ascii("GIF89a") { return .other("a GIF image") }
        if ascii("RIFF") && ascii("WEBP", at: 8) { return .webp }
        if ascii("RIFF") { return .other("a RIFF container (not WebP)") }
        if ascii("BM") && n >= 14 { return .other("a BMP image") }
        if has([0x49, 0x49, 0x2A, 0x00]) || has([0x4D, 0x4D, 0x00, 0x2A]) { return .other("a TIFF image") }
        if has([0x49, 0x49, 0x2B, 0x00]) || has([0x4D, 0x4D, 0x00, 0x2B]) { return .other("a BigTIFF image") }
        if ascii("ftyp", at: 4) {
            // ISO base media file: the major brand tells HEIC from AVIF from video.
            let brandBytes = (8..<12).map { at($0) }
            let brand = String(decoding: brandBytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            switch brand {
            case "avif", "avis": return .other("an AVIF image")
            case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "msf1":
                return .other("a HEIC/HEIF image (brand '\(brand)')")
            case "crx ": return .other("a Canon CR3 raw image")
            default: return .other("an ISO media file (MP4/QuickTime family, brand '\(brand)')")
            }
        }
        if has([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || has([0xFF, 0x4F, 0xFF, 0x51]) {
            return .other("a JPEG 2000 image")
        }
        if has([0xFF, 0x0A]) || has([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) { return .other("a JPEG XL image") }
        if ascii("%PDF") { return .other("a PDF document") }
        if ascii("8BPS") { return .other("a Photoshop PSD file") }
        if has([0x00, 0x00, 0x01, 0x00]) && n >= 6 { return .other("a Windows ICO icon") }
        if ascii("qoif") { return .other("a QOI image") }
        if ascii("P1") || ascii("P2") || ascii("P3") || ascii("P4") || ascii("P5") || ascii("P6") {
            if n > 2, [0x0A, 0x0D, 0x20, 0x09].contains(b[2]) { return .other("a PNM/PPM image") }
        }
        if has([0x1F, 0x8B]) { return .other("gzip-compressed data") }
        if ascii("PK\u{03}\u{04}") { return .other("a ZIP archive") }
        if ascii("<svg") || ascii("<?xml") { return .other("an XML/SVG document") }
        return .unknown(firstBytes: (0..<min(n, 8)).map { b[$0] })
    }
}

/// Two lowercase hex digits, without Foundation's String(format:).
@inline(__always)
func hex2(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
