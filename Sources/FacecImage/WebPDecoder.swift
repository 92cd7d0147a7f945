import CWebP
import FacecCore

/// WebP through libwebp, as cv2.imread(IMREAD_COLOR) decodes it: the colour
/// channels (WebPDecodeBGR, or BGRA with the alpha then dropped: the same
/// values), to RGB; the EXIF orientation applied; of an animation, the first frame.
enum WebPDecoder {
    static func decode(_ bytes: UnsafeRawBufferPointer, name: String, maxPixels: Int) throws(FacecError) -> DecodedImage {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw FacecError(.image, name, "empty file (0 bytes)") }
        var features = WebPBitstreamFeatures()
        guard WebPGetFeaturesInternal(base, bytes.count, &features, Int32(WEBP_DECODER_ABI_VERSION)) == VP8_STATUS_OK else {
            throw FacecError(.image, name, "WebP: damaged or unsupported bitstream")
        }
        let w = Int(features.width), h = Int(features.height)
        guard w > 0, h > 0, w * h <= maxPixels else {
            throw FacecError(.image, name, "image of \(w)x\(h) pixels is larger than the limit of \(maxPixels) pixels")
        }
        if features.has_animation != 0 {
            return EXIFOrientation.apply(exifOrientation(bytes), to: try firstFrame(base, bytes.count, width: w, height: h, name: name))
        }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let ok = pixels.withUnsafeMutableBufferPointer { out in
            WebPDecodeRGBInto(base, bytes.count, out.baseAddress, out.count, Int32(w * 3)) != nil
        }
        guard ok else { throw FacecError(.image, name, "WebP: damaged image data") }
        let image = DecodedImage(width: w, height: h, pixels: pixels)
        return EXIFOrientation.apply(exifOrientation(bytes), to: image)
    }

    /// An animation's first frame on its canvas, as cv2.imread returns it
    /// (libwebp's animation decoder, RGBA, alpha dropped). Only one frame is
    /// decoded, so the work stays bounded by the canvas size.
    static func firstFrame(_ base: UnsafePointer<UInt8>, _ count: Int, width w: Int, height h: Int, name: String) throws(FacecError) -> DecodedImage {
        var options = WebPAnimDecoderOptions()
        guard WebPAnimDecoderOptionsInitInternal(&options, Int32(WEBP_DEMUX_ABI_VERSION)) != 0 else {
            throw FacecError(.image, name, "WebP: cannot start the animation decoder")
        }
        options.color_mode = MODE_RGBA
        options.use_threads = 0
        var data = WebPData(bytes: base, size: count)
        guard let decoder = WebPAnimDecoderNewInternal(&data, &options, Int32(WEBP_DEMUX_ABI_VERSION)) else {
            throw FacecError(.image, name, "WebP: damaged animation")
        }
        defer { WebPAnimDecoderDelete(decoder) }
        var info = WebPAnimInfo()
        var frame: UnsafeMutablePointer<UInt8>?
        var timestamp: Int32 = 0
        guard WebPAnimDecoderGetInfo(decoder, &info) != 0, Int(info.canvas_width) == w, Int(info.canvas_height) == h,
              WebPAnimDecoderGetNext(decoder, &frame, &timestamp) != 0, let frame else {
            throw FacecError(.image, name, "WebP: damaged animation frame")
        }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            pixels[3 * i] = frame[4 * i]
            pixels[3 * i + 1] = frame[4 * i + 1]
            pixels[3 * i + 2] = frame[4 * i + 2]
        }
        return DecodedImage(width: w, height: h, pixels: pixels)
    }

    /// The orientation tag of the EXIF chunk, if any (1 otherwise).
    static func exifOrientation(_ bytes: UnsafeRawBufferPointer) -> Int {
        var data = WebPData(bytes: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), size: bytes.count)
        guard let demux = WebPDemuxInternal(&data, 0, nil, Int32(WEBP_DEMUX_ABI_VERSION)) else { return 1 }
        defer { WebPDemuxDelete(demux) }
        var chunk = WebPChunkIterator()
        guard WebPDemuxGetChunk(demux, "EXIF", 1, &chunk) != 0 else { return 1 }
        defer { WebPDemuxReleaseChunkIterator(&chunk) }
        guard let p = chunk.chunk.bytes else { return 1 }
        var payload = UnsafeRawBufferPointer(start: p, count: chunk.chunk.size)
        // Some writers keep JPEG's "Exif\0\0" prefix in the chunk.
        if payload.count >= 6, Array(payload[0..<6]) == [0x45, 0x78, 0x69, 0x66, 0, 0] { payload = UnsafeRawBufferPointer(rebasing: payload[6...]) }
        return EXIFOrientation.orientationFromTIFF(payload)
    }
}
