/// EXIF orientation (TIFF tag 0x0112) read from a JPEG's APP1 "Exif" segment,
/// and the pixel transform that makes the image upright.
///
/// OpenCV's `cv2.imread` applies this tag, so deepface sees upright images;
/// we must do the same. libjpeg does not parse EXIF, so we do it here with
/// bounds-checked reads: the input is untrusted, and any malformed structure
/// simply means "no orientation" (1), never a crash.
public enum EXIFOrientation {
    /// The orientation value 1...8 found in the first APP1 Exif segment before
    /// the first scan, or 1 when absent, malformed or out of range.
    public static func read(from jpeg: UnsafeRawBufferPointer) -> Int {
        var orientation = 1
        _ = JPEGStructure.walkSegments(jpeg) { marker, payload in
            guard marker == 0xE1, payload.count >= 6,
                  jpeg[payload.lowerBound] == 0x45, jpeg[payload.lowerBound + 1] == 0x78,       // "Ex"
                  jpeg[payload.lowerBound + 2] == 0x69, jpeg[payload.lowerBound + 3] == 0x66,   // "if"
                  jpeg[payload.lowerBound + 4] == 0, jpeg[payload.lowerBound + 5] == 0
            else { return true }   // keep looking (APP1 may also hold XMP)
            // Like OpenCV, only the first Exif segment counts.
            orientation = orientationFromTIFF(UnsafeRawBufferPointer(rebasing: jpeg[(payload.lowerBound + 6)..<payload.upperBound]))
            return false
        }
        return orientation
    }

    /// Parses a TIFF structure (the payload after "Exif\0\0") for IFD0 tag 0x0112.
    static func orientationFromTIFF(_ t: UnsafeRawBufferPointer) -> Int {
        let n = t.count
        guard n >= 8 else { return 1 }
        let little: Bool
        if t[0] == 0x49 && t[1] == 0x49 { little = true }
        else if t[0] == 0x4D && t[1] == 0x4D { little = false }
        else { return 1 }
        // Every read checks its bounds and yields nil when out of range.
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= n else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard o >= 0, o + 4 <= n else { return nil }
            let b0 = Int(t[o]), b1 = Int(t[o + 1]), b2 = Int(t[o + 2]), b3 = Int(t[o + 3])
            return little ? b0 | b1 << 8 | b2 << 16 | b3 << 24 : b0 << 24 | b1 << 16 | b2 << 8 | b3
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return 1 }
        for i in 0..<count {
            let e = ifd + 2 + 12 * i
            guard let tag = u16(e), let type = u16(e + 2), let cnt = u32(e + 4) else { return 1 }
            guard tag == 0x0112 else { continue }
            guard cnt >= 1 else { return 1 }
            let value: Int?
            switch type {
            case 3: value = u16(e + 8)        // SHORT, the standard type
            case 4: value = u32(e + 8)        // LONG, seen from sloppy writers
            default: value = nil
            }
            if let v = value, (1...8).contains(v) { return v }
            return 1
        }
        return 1
    }

    /// Returns the upright image for a stored image with the given EXIF
    /// orientation. Orientations 5–8 swap width and height.
    ///
    /// For each output pixel (ox, oy) the source pixel is (W = stored width, H = stored height):
    ///   1 (ox, oy)            2 (W-1-ox, oy)        3 (W-1-ox, H-1-oy)    4 (ox, H-1-oy)
    ///   5 (oy, ox)            6 (oy, H-1-ox)        7 (W-1-oy, H-1-ox)    8 (W-1-oy, ox)
    /// (6 = the camera was turned 90° clockwise: rotate 90° clockwise to view.)
    public static func apply(_ orientation: Int, to image: DecodedImage) -> DecodedImage {
        guard (2...8).contains(orientation), image.width > 0, image.height > 0 else { return image }
        let w = image.width, h = image.height
        let swaps = orientation >= 5
        let ow = swaps ? h : w, oh = swaps ? w : h
        // Source offset = base + ox*dx + oy*dy (in pixels), so the loop is two adds.
        let base: Int, dx: Int, dy: Int
        switch orientation {
        case 2: base = w - 1;                dx = -1;  dy = w
        case 3: base = (h - 1) * w + w - 1;  dx = -1;  dy = -w
        case 4: base = (h - 1) * w;          dx = 1;   dy = -w
        case 5: base = 0;                    dx = w;   dy = 1
        case 6: base = (h - 1) * w;          dx = -w;  dy = 1
        case 7: base = (h - 1) * w + w - 1;  dx = -w;  dy = -1
        default /* 8 */: base = w - 1;       dx = w;   dy = -1
        }
        let out = [UInt8](unsafeUninitializedCapacity: ow * oh * 3) { buf, initialized in
            image.pixels.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let d = buf.baseAddress else { return }
                var o = 0
                for oy in 0..<oh {
                    var p = base + oy * dy
                    for _ in 0..<ow {
                        let q = p * 3
                        d[o] = s[q]; d[o + 1] = s[q + 1]; d[o + 2] = s[q + 2]
                        o += 3
                        p += dx
                    }
                }
            }
            initialized = ow * oh * 3
        }
        return DecodedImage(width: ow, height: oh, pixels: out)
    }
}
