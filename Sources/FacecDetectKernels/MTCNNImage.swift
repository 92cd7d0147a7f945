import FacecImage

/// The image mtcnn 1.0.0 sees when deepface calls it, never materialised:
/// the photo (RGB, as deepface flips cv2's BGR) inside deepface's black
/// frame of half its height and width, each value normalised as mtcnn does,
/// (p − 127.5) / 128 (exact in float32). A 100-megapixel photo would make a
/// 4.8 GB float image; instead the pyramid reads rows of it a band at a
/// time and the crops read the pixels they sample.
package struct MTCNNImage: @unchecked Sendable {
    package let photo: DecodedImage
    /// deepface's frame: int(0.5 · width), int(0.5 · height).
    package let borderX: Int, borderY: Int
    package let width: Int, height: Int
    private let table: [Float]
    /// The frame's value: black, normalised.
    package var black: Float { table[0] }

    package init(_ photo: DecodedImage) {
        self.photo = photo
        borderX = photo.width / 2
        borderY = photo.height / 2
        width = photo.width + 2 * borderX
        height = photo.height + 2 * borderY
        table = (0..<256).map { Float((Double($0) - 127.5) / 128) }
    }

    /// Row `y` of the framed, normalised image (`width` × 3 floats) into `out`.
    package func row(_ y: Int, into out: UnsafeMutablePointer<Float>) {
        let black = table[0]
        let py = y - borderY
        guard py >= 0, py < photo.height else {
            out.update(repeating: black, count: width * 3)
            return
        }
        out.update(repeating: black, count: borderX * 3)
        photo.pixels.withUnsafeBufferPointer { px in
            // (p − 127.5) / 128 is exact in float32 too: 8 at a time.
            let src = px.baseAddress! + py * photo.width * 3, dst = out + borderX * 3, n = photo.width * 3
            var i = 0
            while i + 8 <= n {
                let bytes = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<UInt8>.self)
                let v = (SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: bytes)) - 127.5) * 0.0078125
                UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n { dst[i] = (Float(src[i]) - 127.5) * 0.0078125; i += 1 }
        }
        (out + (borderX + photo.width) * 3).update(repeating: black, count: (width - borderX - photo.width) * 3)
    }

    /// Channel `k` of pixel (x, y) of the framed, normalised image.
    @inline(__always)
    package func value(_ y: Int, _ x: Int, _ k: Int) -> Float {
        let py = y - borderY, px = x - borderX
        guard py >= 0, py < photo.height, px >= 0, px < photo.width else { return table[0] }
        return table[Int(photo.pixels[(py * photo.width + px) * 3 + k])]
    }
}

extension TFImageOps {
    /// Output rows `rows` of `resizeArea` of `image` (the whole framed image
    /// resized to `outHeight` × `outWidth` × 3) into `dst`, rows one after the
    /// other; the input rows are made as needed in `scratch`, which must hold
    /// `areaRowsNeeded(rows:…) · image.width · 3` floats. Bit-identical to
    /// `resizeArea` of the materialised image.
    package static func resizeArea(_ image: MTCNNImage, outHeight oh: Int, outWidth ow: Int, rows: Range<Int>,
                                   scratch: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let (first, last) = areaInputRows(inHeight: image.height, outHeight: oh, rows: rows)
        let stride = image.width * 3
        // Frame rows are never read (their sums are the frame's, below).
        let lo = max(first, image.borderY), hi = min(last, image.borderY + image.photo.height)
        if lo < hi { for i in lo..<hi { image.row(i, into: scratch + (i - first) * stride) } }
        let frame = (rows: image.borderY..<(image.borderY + image.photo.height), columns: image.borderX..<(image.borderX + image.photo.width),
                     value: image.black)
        resizeArea(rowAt: { UnsafePointer(scratch + ($0 - first) * stride) }, height: image.height, width: image.width, channels: 3,
                   outHeight: oh, outWidth: ow, rows: rows, uniform: frame, into: dst)
    }

    /// The input rows [first, last) that output rows `rows` of an area resize read.
    package static func areaInputRows(inHeight h: Int, outHeight oh: Int, rows: Range<Int>) -> (Int, Int) {
        let hs = Float(h) / Float(oh)
        let a = Span(output: rows.lowerBound, scale: hs, count: h), b = Span(output: rows.upperBound - 1, scale: hs, count: h)
        return (a.bounded(a.start), b.bounded(b.end - 1) + 1)
    }

    /// `crop_and_resize` of one box of `image` (see `cropAndResize`), reading
    /// only the pixels it samples.
    package static func cropAndResize(_ image: MTCNNImage, box: (y1: Float, x1: Float, y2: Float, x2: Float), size: Int,
                                      into dst: UnsafeMutablePointer<Float>) {
        cropAndResize(height: image.height, width: image.width, channels: 3, box: box, size: size, extrapolation: 0, into: dst,
                      value: image.value)
    }
}
