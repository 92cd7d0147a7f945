import FacecCore
/// A decoded image: 8-bit RGB, interleaved, row-major, top-left origin, with
/// the EXIF orientation already applied (as `cv2.imread` does).
public struct DecodedImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "DecodedImage: pixels.count must be width*height*3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// Front door: file or memory → `DecodedImage`, or an `FacecError` whose
/// description is one line starting with the path. JPEG, PNG and WebP are
/// decoded (chosen by content); other formats are named (HEIC, GIF…) and refused.
public enum ImageDecoder {
    /// 100 megapixels: a 300 MB RGB buffer. Checked from the JPEG header
    /// before any pixel memory is allocated.
    public static let defaultMaxPixels = 100_000_000
    /// Files larger than this are refused before being read.
    public static let maxFileBytes = 512 << 20

    /// - Parameter minimum: decode with DCT downscaling to the smallest size
    ///   that is still at least this large (display orientation); nil decodes
    ///   at full size.
    public static func decodeFile(_ path: String, maxPixels: Int = defaultMaxPixels,
                                  minimum: (width: Int, height: Int)? = nil) throws(FacecError) -> DecodedImage {
        let bytes = try FileReader.readAll(path, maxBytes: maxFileBytes)
        // withUnsafeBytes is `rethrows` (untyped), so carry the typed error out in a Result.
        let result = bytes.withUnsafeBytes { buf in
            Result { () throws(FacecError) -> DecodedImage in try decode(buf, name: path, maxPixels: maxPixels, minimum: minimum) }
        }
        return try result.get()
    }

    /// Decodes an in-memory file; `name` is used as the path in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String,
                              maxPixels: Int = defaultMaxPixels,
                              minimum: (width: Int, height: Int)? = nil) throws(FacecError) -> DecodedImage {
        if bytes.count > maxFileBytes {
            throw FacecError(.image, name, "file is \(bytes.count) bytes, larger than the limit of \(maxFileBytes) bytes")
        }
        let format = ImageFormatSniffer.sniff(bytes)
        if let refusal = format.refusal {
            throw FacecError(.image, name, refusal)
        }
        // Chosen by content, as cv2.imread does (photo sets hold WebP files named .jpg).
        switch format {
        case .png: return try PNGDecoder.decode(bytes, name: name, maxPixels: maxPixels)
        case .webp: return try WebPDecoder.decode(bytes, name: name, maxPixels: maxPixels)
        default: break
        }
        let orientation = EXIFOrientation.read(from: bytes)
        // Orientations 5–8 swap the axes: the stored width is the displayed height.
        let stored = minimum.map { orientation >= 5 ? (width: $0.height, height: $0.width) : $0 }
        let image = try JPEGDecoder.decode(bytes, name: name, maxPixels: maxPixels, minimum: stored)
        return EXIFOrientation.apply(orientation, to: image)
    }
}
