import CPNG
import FacecCore
#if canImport(Glibc)
import Glibc
#endif

/// PNG through libpng, with the transforms cv2.imread(IMREAD_COLOR) asks for
/// (see CPNG/png_codec.h), to RGB.
enum PNGDecoder {
    static func decode(_ bytes: UnsafeRawBufferPointer, name: String, maxPixels: Int) throws(FacecError) -> DecodedImage {
        var w: Int32 = 0, h: Int32 = 0
        var rgb: UnsafeMutablePointer<UInt8>?
        var exif: UnsafeMutablePointer<UInt8>?
        var exifSize = 0
        var err = [CChar](repeating: 0, count: 256)
        let status = facec_png_decode(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, maxPixels,
                                      &w, &h, &rgb, &exif, &exifSize, &err, err.count)
        defer { free(exif) }
        guard status == 0, let rgb else { throw FacecError(.image, name, "PNG: \(String(cString: err))") }
        defer { free(rgb) }
        let n = Int(w) * Int(h) * 3
        let image = DecodedImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: rgb, count: n)))
        let orientation = exif.map { EXIFOrientation.orientationFromTIFF(UnsafeRawBufferPointer(start: $0, count: exifSize)) } ?? 1
        return EXIFOrientation.apply(orientation, to: image)
    }
}

/// PNG files of RGB images (for aligned crops people look at).
public enum PNGEncoder {
    public static func encode(_ image: DecodedImage) throws(FacecError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var err = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer {
            facec_png_encode($0.baseAddress, Int32(image.width), Int32(image.height), &out, &size, &err, err.count)
        }
        guard status == 0, let out else { throw FacecError(.image, "PNG", String(cString: err)) }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
