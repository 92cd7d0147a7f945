import CTurboJPEG
import FacecCore

/// JPEG → RGB through libjpeg-turbo's TurboJPEG 2.x API (Debian 12 ships 2.1.5,
/// which has no tj3 functions).
///
/// Settings match `cv2.imread`, which is what deepface reads images with:
/// accurate integer IDCT (JDCT_ISLOW) and fancy upsampling, i.e. TurboJPEG's
/// default flags; OpenCV's bundled libjpeg-turbo uses the same defaults.
enum JPEGDecoder {
    /// Refuse progressive JPEGs with more than 500 scans (a CPU-exhaustion
    /// trick; real files have ~10). It does not change decoded pixels.
    static let flags: Int32 = Int32(TJFLAG_LIMITSCANS)

    /// - Parameter minimum: if given, libjpeg-turbo's DCT scaling (1/8…7/8)
    ///   decodes at the smallest scale whose result is still at least this
    ///   large (stored orientation): far less work for photos much larger
    ///   than the model input.
    static func decode(_ bytes: UnsafeRawBufferPointer, name: String, maxPixels: Int,
                       minimum: (width: Int, height: Int)? = nil) throws(FacecError) -> DecodedImage {
        func fail(_ reason: String) -> FacecError { FacecError(.image, name, reason) }

        guard let handle = tjInitDecompress() else {
            throw fail("cannot initialise the JPEG decoder")
        }
        defer { tjDestroy(handle) }
        let src = bytes.bindMemory(to: UInt8.self)
        guard let srcBase = src.baseAddress else { throw fail("empty file (0 bytes)") }
        let srcSize = UInt(src.count)

        // 1. Header only: dimensions and colour space, no pixel memory yet.
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        if tjDecompressHeader3(handle, srcBase, srcSize, &w, &h, &subsamp, &colorspace) != 0 {
            // A header read with only a harmless warning still gives valid
            // dimensions; anything else is a corrupt, truncated or non-JPEG stream.
            let message = errorText(handle)
            if !(isHarmlessWarning(message) && w > 0 && h > 0) {
                if message.includes("Premature end of JPEG file") {
                    throw fail("truncated JPEG (\(message))")
                }
                throw fail("corrupt JPEG header: \(message)")
            }
        }
        guard w > 0, h > 0 else { throw fail("zero-size image (\(w)x\(h))") }
        let fullPixels = Int(w) * Int(h)    // both ≤ 65535 by the JPEG format: no overflow
        guard fullPixels <= maxPixels else {
            throw fail("image is \(w)x\(h) = \(fullPixels) pixels, more than the limit of \(maxPixels) pixels")
        }
        if let minimum { (w, h) = scaledSize(w, h, atLeast: minimum) }
        let width = Int(w), height = Int(h)
        let pixelCount = width * height

        // 2. Decode. CMYK/YCCK files decode to 4-channel CMYK and are converted
        // below exactly as OpenCV does; everything else (YCbCr, RGB, grey)
        // goes straight to RGB (libjpeg replicates grey into 3 channels).
        let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = isCMYK ? 4 : 3
        let pixelFormat = isCMYK ? TJPF_CMYK : TJPF_RGB
        var raw = [UInt8](repeating: 0, count: pixelCount * channels)
        let rc = raw.withUnsafeMutableBufferPointer { dst in
            tjDecompress2(handle, srcBase, srcSize, dst.baseAddress, w, Int32(width * channels), h,
                          Int32(pixelFormat.rawValue), flags)
        }
        if rc != 0 {
            // TurboJPEG returns -1 both for fatal errors and for libjpeg
            // warnings, and tjGetErrorCode is not reliable to tell them apart
            // (a fatal error after a warning still reports TJERR_WARNING). So
            // anything but a known-harmless warning is a failure.
            let message = errorText(handle)
            if !isHarmlessWarning(message) {
                if !JPEGStructure.hasEndMarkerAfterScan(bytes) {
                    throw fail("truncated JPEG (\(message)); refusing a partially decoded image")
                }
                throw fail("corrupt JPEG: \(message)")
            }
        }
        // A file cut short makes libjpeg warn "Premature end of JPEG file" and
        // fill the rest with grey; TurboJPEG keeps only the first warning's
        // text, so a harmless warning could hide it. Checking for the EOI
        // marker catches every truncation whatever the messages say.
        if !JPEGStructure.hasEndMarkerAfterScan(bytes) {
            throw fail("truncated JPEG (no end-of-image marker after the image data); refusing a partially decoded image")
        }

        let pixels = isCMYK ? cmykToRGB(raw, count: pixelCount) : raw
        return DecodedImage(width: width, height: height, pixels: pixels)
    }

    /// libjpeg warnings that leave every pixel decoded. OpenCV (and so
    /// deepface) accepts files with these, and so do we. All other warnings
    /// ("Premature end of JPEG file", "premature end of data segment", "bad
    /// Huffman code", "found marker … instead of RST", "Inconsistent
    /// progression sequence"…) mean part of the image was filled in rather
    /// than decoded: OpenCV silently returns such a half-grey image, but a
    /// face model fed half an image gives a confident wrong answer, so we refuse.
    /// The smallest TurboJPEG scaling (M/8) keeping both sides ≥ the minimum.
    static func scaledSize(_ w: Int32, _ h: Int32, atLeast minimum: (width: Int, height: Int)) -> (Int32, Int32) {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count), count > 0 else { return (w, h) }
        var best = (w, h)
        for i in 0..<Int(count) {
            let f = factors[i]
            guard f.num > 0, f.denom > 0, f.num <= f.denom else { continue }   // downscaling only
            let sw = (w * f.num + f.denom - 1) / f.denom, sh = (h * f.num + f.denom - 1) / f.denom
            if Int(sw) >= minimum.width && Int(sh) >= minimum.height && Int(sw) * Int(sh) < Int(best.0) * Int(best.1) {
                best = (sw, sh)
            }
        }
        return best
    }

    static func isHarmlessWarning(_ message: String) -> Bool {
        let harmless = [
            "extraneous bytes before marker",           // JWRN_EXTRANEOUS_DATA: junk between segments
            "Warning: unknown JFIF revision number",    // JWRN_JFIF_MAJOR
            "Unknown Adobe color transform code",       // JWRN_ADOBE_XFORM: libjpeg guesses, like OpenCV
            "Invalid SOS parameters for sequential JPEG", // JWRN_NOT_SEQUENTIAL
            "Corrupt JPEG data: bad ICC marker",        // JWRN_BOGUS_ICC: metadata only
        ]
        return harmless.contains { message.includes($0) }
    }

    static func errorText(_ handle: tjhandle) -> String {
        guard let s = tjGetErrorStr2(handle) else { return "unknown libjpeg error" }
        return String(cString: s)
    }

    /// CMYK as libjpeg returns it from Adobe files (inverted: 255 = no ink)
    /// to RGB, with OpenCV's formula (`icvCvt_CMYK2BGR_8u_C4C3R`) so that
    /// results equal `cv2.imread`: R = K - ((255 - C) * K >> 8), etc.
    static func cmykToRGB(_ cmyk: [UInt8], count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialized in
            cmyk.withUnsafeBufferPointer { src in
                for i in 0..<count {
                    let c = Int(src[4 * i]), m = Int(src[4 * i + 1]), y = Int(src[4 * i + 2]), k = Int(src[4 * i + 3])
                    // Parenthesised: in Swift `>>` binds tighter than `*`.
                    out[3 * i] = UInt8(k - (((255 - c) * k) >> 8))
                    out[3 * i + 1] = UInt8(k - (((255 - m) * k) >> 8))
                    out[3 * i + 2] = UInt8(k - (((255 - y) * k) >> 8))
                }
            }
            initialized = count * 3
        }
    }
}

extension String {
    /// Substring search with the standard library alone (String.contains(String)
    /// comes from _StringProcessing and links the regex engine into facec-run).
    func includes(_ needle: String) -> Bool {
        let n = Array(needle.utf8)
        var rest = Substring(self).utf8[...]
        while true {
            if rest.starts(with: n) { return true }
            guard !rest.isEmpty else { return false }
            rest = rest.dropFirst()
        }
    }
}
