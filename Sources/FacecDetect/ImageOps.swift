import FacecImage

extension DecodedImage {
    /// The image inside a black frame (`cv2.copyMakeBorder(BORDER_CONSTANT, 0)`).
    public func bordered(horizontal: Int, vertical: Int) -> DecodedImage {
        let w = width + 2 * horizontal, h = height + 2 * vertical
        var out = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    (dst.baseAddress! + ((y + vertical) * w + horizontal) * 3).update(from: src.baseAddress! + y * width * 3, count: width * 3)
                }
            }
        }
        return DecodedImage(width: w, height: h, pixels: out)
    }

    /// The pixels of a rectangle, clipped to the image (numpy slicing).
    public func cropped(x: Int, y: Int, width cw: Int, height ch: Int) -> DecodedImage {
        let x0 = min(max(0, x), width), y0 = min(max(0, y), height)
        let x1 = min(max(x0, x + cw), width), y1 = min(max(y0, y + ch), height)
        var out = [UInt8]()
        out.reserveCapacity((x1 - x0) * (y1 - y0) * 3)
        for row in y0..<y1 { out.append(contentsOf: pixels[((row * width + x0) * 3)..<((row * width + x1) * 3)]) }
        return DecodedImage(width: x1 - x0, height: y1 - y0, pixels: out)
    }
}
