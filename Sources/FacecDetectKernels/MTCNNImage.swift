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
        table.withUnsafeBufferPointer { t in
            photo.pixels.withUnsafeBufferPointer { px in
                let src = px.baseAddress! + py * photo.width * 3, dst = out + borderX * 3
                for i in 0..<(photo.width * 3) { dst[i] = t[Int(src[i])] }
            }
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
        for i in first..<last { image.row(i, into: scratch + (i - first) * stride) }
        resizeArea(rowAt: { UnsafePointer(scratch + ($0 - first) * stride) }, height: image.height, width: image.width, channels: 3,
                   outHeight: oh, outWidth: ow, rows: rows, into: dst)
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
        let h = image.height, w = image.width, c = 3
        let hm = Float(h - 1), wm = Float(w - 1)
        let hs = size > 1 ? (box.y2 - box.y1) * hm / Float(size - 1) : 0
        let ws = size > 1 ? (box.x2 - box.x1) * wm / Float(size - 1) : 0
        for y in 0..<size {
            let iy = size > 1 ? box.y1 * hm + Float(y) * hs : 0.5 * (box.y1 + box.y2) * hm
            let out = dst + y * size * c
            guard iy >= 0, iy <= hm else {
                out.update(repeating: 0, count: size * c)
                continue
            }
            let top = Int(iy.rounded(.down)), bottom = Int(iy.rounded(.up))
            let yl = iy - Float(top)
            for x in 0..<size {
                let ix = size > 1 ? box.x1 * wm + Float(x) * ws : 0.5 * (box.x1 + box.x2) * wm
                let o = out + x * c
                guard ix >= 0, ix <= wm else {
                    for k in 0..<c { o[k] = 0 }
                    continue
                }
                let left = Int(ix.rounded(.down)), right = Int(ix.rounded(.up))
                let xl = ix - Float(left)
                for k in 0..<c {
                    let tl = image.value(top, left, k), tr = image.value(top, right, k)
                    let bl = image.value(bottom, left, k), br = image.value(bottom, right, k)
                    let t = tl + (tr - tl) * xl
                    let b = bl + (br - bl) * xl
                    o[k] = t + (b - t) * yl
                }
            }
        }
    }
}
