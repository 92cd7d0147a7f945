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
    /// Y = (9798 R + 19235 G + 3735 B + 2^14) >> 15 (its 15-bit fixed point).
    public init(_ image: DecodedImage) {
        let n = image.width * image.height
        let out = [UInt8](unsafeUninitializedCapacity: n) { buf, initialized in
            image.pixels.withUnsafeBufferPointer { px in
                for i in 0..<n {
                    let r = UInt32(px[3 * i]), g = UInt32(px[3 * i + 1]), b = UInt32(px[3 * i + 2])
                    buf[i] = UInt8((r &* 9798 &+ g &* 19235 &+ b &* 3735 &+ 16384) >> 15)
                }
            }
            initialized = n
        }
        self.init(width: image.width, height: image.height, pixels: out)
    }

    /// The image inside a black frame (`cv2.copyMakeBorder(BORDER_CONSTANT, 0)`).
    public func bordered(horizontal: Int, vertical: Int) -> GrayImage {
        let w = width + 2 * horizontal, h = height + 2 * vertical
        var out = [UInt8](repeating: 0, count: w * h)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    (dst.baseAddress! + (y + vertical) * w + horizontal).update(from: src.baseAddress! + y * width, count: width)
                }
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
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
