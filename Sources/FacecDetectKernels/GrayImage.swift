import FacecImage

/// An 8-bit single-channel image, row-major.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height, "GrayImage: pixels.count must be width*height")
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// OpenCV's `cvtColor(BGR2GRAY)` for 8-bit data, of an RGB image:
    /// Y = (9798 R + 19235 G + 3735 B + 2^14) >> 15 (its 15-bit fixed point);
    /// optionally inside a black frame (grey of black is black), written in
    /// place so the unframed grey image is never held as well.
    public init(_ image: DecodedImage, frame: (horizontal: Int, vertical: Int) = (0, 0)) {
        let w = image.width + 2 * frame.horizontal, h = image.height + 2 * frame.vertical
        var out = [UInt8](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { buf in
                for y in 0..<image.height {
                    let src = y * image.width, dst = (y + frame.vertical) * w + frame.horizontal
                    for x in 0..<image.width {
                        let i = 3 * (src + x)
                        let r = UInt32(px[i]), g = UInt32(px[i + 1]), b = UInt32(px[i + 2])
                        buf[dst + x] = UInt8((r &* 9798 &+ g &* 19235 &+ b &* 3735 &+ 16384) >> 15)
                    }
                }
            }
        }
        self.init(width: w, height: h, pixels: out)
    }

    /// The pixels of the rectangle (clipped to the image), as numpy's
    /// `img[y0:y1, x0:x1]` slices them.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> GrayImage {
        let x0 = min(max(0, x), width), y0 = min(max(0, y), height)
        let x1 = min(max(x0, x + w), width), y1 = min(max(y0, y + h), height)
        var out = [UInt8]()
        out.reserveCapacity((x1 - x0) * (y1 - y0))
        for row in y0..<y1 { out.append(contentsOf: pixels[(row * width + x0)..<(row * width + x1)]) }
        return GrayImage(width: x1 - x0, height: y1 - y0, pixels: out)
    }
}
