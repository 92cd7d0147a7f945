import FacecImage

extension DecodedImage {
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
