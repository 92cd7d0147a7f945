import FacecCore
/// Which OpenCV arithmetic the bilinear resize reproduces. OpenCV has two
/// code paths for `cv2.resize(INTER_LINEAR)` on float64 images, and they
/// differ by up to ~1e-4 (on [0,1] data, large downscales):
public enum ResizeArithmetic: Sendable, Equatable {
    /// float64 source coordinates and weights. This is what the x86-64
    /// opencv-python wheels compute (they hand float64 resizes to Intel IPP),
    /// i.e. what deepface computes on a usual Linux/Windows PC: matches it to
    /// ~1e-13 before the float32 cast (checked with OpenCV 4.5.5, 4.10,
    /// 4.14 and 5.0).
    case float64
    /// float32 coordinates and weights, OpenCV's portable C++ path
    /// (`resizeGeneric_` with `fx = (float)((dx+0.5)*scale_x - 0.5)`), used
    /// where IPP is absent (ARM builds, e.g. Apple silicon) or disabled
    /// (`cv2.ipp.setUseIPP(False)`): bit-exact to it.
    case float32Weights
}

/// How a model wants its input: `out = resize(u8 * scale) - mean[c]`, NHWC.
///
/// deepface (formats.md §3): BGR, scale 1/255, no mean ("base", the default
/// normalization). Its "VGGFace" normalization (×255 then minus the BGR caffe
/// mean) is scale 1 with mean [93.5940, 104.7624, 129.1863]: equal up to one
/// float32 ulp at 255 (~1.5e-5), since deepface multiplies by 255 in float32.
public struct PreprocessSpec: Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var colorOrder: ColorOrder
    /// Applied to the 8-bit values before resizing (deepface: 1/255).
    public var scale: Float
    /// Per output channel, in the model's channel order; empty = zeros.
    /// Subtracted after padding, so padded pixels become -mean[c].
    public var mean: [Float]
    public var resize: ResizePolicy
    public var arithmetic: ResizeArithmetic
    /// After the float32 cast: ×255 in float32 and truncated to an integer
    /// 0...255 (deepface's Dlib client, `(img * 255).astype(np.uint8)`), then
    /// × `postScale`, before the mean is subtracted.
    public var truncateToUInt8: Bool
    public var postScale: Float

    public init(height: Int, width: Int, colorOrder: ColorOrder, scale: Float = 1.0 / 255.0,
                mean: [Float] = [], resize: ResizePolicy = .keepAspectPad,
                arithmetic: ResizeArithmetic = .float64, truncateToUInt8: Bool = false, postScale: Float = 1) {
        self.height = height
        self.width = width
        self.colorOrder = colorOrder
        self.scale = scale
        self.mean = mean
        self.resize = resize
        self.arithmetic = arithmetic
        self.truncateToUInt8 = truncateToUInt8
        self.postScale = postScale
    }

    public var elementCount: Int { height * width * 3 }
}

/// Turns a decoded image into a float32 NHWC tensor (one image, H*W*3 floats)
/// exactly as deepface does with OpenCV:
///   1. v = u8 * scale, in float64 (numpy `img / 255`);
///   2. resize with OpenCV `cv2.resize(INTER_LINEAR)` arithmetic on float64
///      data (horizontal pass then vertical blend; weights per
///      `spec.arithmetic`), into the padded H×W frame (zeros around) or
///      stretched to H×W;
///   3. cast to float32 (and, for deepface's Dlib client, ×255 truncated to
///      an integer, × postScale), subtract mean[c] (padding included);
///   4. channel order RGB or BGR.
/// With identical decoded pixels the result equals deepface's to within
/// float32 rounding (the tests check ≤ 1e-5 against values from cv2).
public enum Preprocessor {
    public static func tensor(from image: DecodedImage, spec: PreprocessSpec) -> [Float] {
        [Float](unsafeUninitializedCapacity: spec.elementCount) { buf, initialized in
            tensor(from: image, spec: spec, into: buf)
            initialized = spec.elementCount
        }
    }

    /// Writes H*W*3 floats at the start of `out` (e.g. one slot of a batch).
    public static func tensor(from image: DecodedImage, spec: PreprocessSpec,
                              into out: UnsafeMutableBufferPointer<Float>) {
        let H = spec.height, W = spec.width
        precondition(H > 0 && W > 0, "PreprocessSpec: height and width must be positive")
        precondition(out.count >= H * W * 3, "Preprocessor: output buffer smaller than H*W*3")
        precondition(spec.mean.isEmpty || spec.mean.count == 3, "PreprocessSpec: mean must have 0 or 3 values")
        precondition(image.width > 0 && image.height > 0, "Preprocessor: empty image")
        guard let o = out.baseAddress else { return }

        let geometry = Geometry(spec: spec, srcWidth: image.width, srcHeight: image.height)
        // Output slots of the source R, G and B channels, and the mean each
        // slot subtracts (mean is given in the model's channel order).
        let (oR, oG, oB) = spec.colorOrder == .rgb ? (0, 1, 2) : (2, 1, 0)
        let mean = spec.mean.isEmpty ? [Float](repeating: 0, count: 3) : spec.mean
        let (mR, mG, mB) = (mean[oR], mean[oG], mean[oB])

        // Padding: zeros minus mean. Only the frame around the image needs it,
        // but filling everything is simpler and cheap next to the model.
        let (m0, m1, m2) = (-mean[0], -mean[1], -mean[2])
        for p in 0..<(H * W) {
            o[3 * p] = m0; o[3 * p + 1] = m1; o[3 * p + 2] = m2
        }

        let lut = valueTable(scale: spec.scale)
        let xt = LinearTaps(src: image.width, dst: geometry.width, arithmetic: spec.arithmetic)
        let yt = LinearTaps(src: image.height, dst: geometry.height, arithmetic: spec.arithmetic)
        let nw = geometry.width
        let rowLen = nw * 3

        // Two horizontally resized source rows, reused while consecutive
        // output rows share them (as OpenCV's row buffer does).
        var rowA = [Double](repeating: 0, count: rowLen), rowB = rowA
        var idA = -1, idB = -1

        image.pixels.withUnsafeBufferPointer { px in
            lut.withUnsafeBufferPointer { lut in
                xt.withPointers { xi0, xi1, xw0, xw1 in
                    func horizontal(_ y: Int, into dst: UnsafeMutablePointer<Double>) {
                        let s = px.baseAddress! + y * image.width * 3
                        let l = lut.baseAddress!
                        for dx in 0..<nw {
                            let a = Int(xi0[dx]) * 3, b = Int(xi1[dx]) * 3
                            let w0 = xw0[dx], w1 = xw1[dx]
                            dst[3 * dx] = l[Int(s[a])] * w0 + l[Int(s[b])] * w1
                            dst[3 * dx + 1] = l[Int(s[a + 1])] * w0 + l[Int(s[b + 1])] * w1
                            dst[3 * dx + 2] = l[Int(s[a + 2])] * w0 + l[Int(s[b + 2])] * w1
                        }
                    }
                    for dy in 0..<geometry.height {
                        let y0 = yt.i0[dy], y1 = yt.i1[dy]
                        // Make rowA hold source row y0 and rowB row y1.
                        if idA != y0 {
                            if idB == y0 {
                                swap(&rowA, &rowB); swap(&idA, &idB)
                            } else {
                                rowA.withUnsafeMutableBufferPointer { horizontal(Int(y0), into: $0.baseAddress!) }
                                idA = Int(y0)
                            }
                        }
                        if idB != y1 {
                            rowB.withUnsafeMutableBufferPointer { horizontal(Int(y1), into: $0.baseAddress!) }
                            idB = Int(y1)
                        }
                        let b0 = yt.w0[dy], b1 = yt.w1[dy]
                        let dst = o + ((dy + geometry.top) * W + geometry.left) * 3
                        rowA.withUnsafeBufferPointer { ra in
                            rowB.withUnsafeBufferPointer { rb in
                                let a = ra.baseAddress!, b = rb.baseAddress!
                                if spec.truncateToUInt8 {
                                    let post = spec.postScale
                                    @inline(__always) func u8(_ v: Double) -> Float {
                                        // numpy: float32 × 255 (one rounding), then astype(uint8).
                                        min(max((Float(v) * 255).rounded(.towardZero), 0), 255) * post
                                    }
                                    for dx in 0..<nw {
                                        let q = 3 * dx
                                        dst[q + oR] = u8(a[q] * b0 + b[q] * b1) - mR
                                        dst[q + oG] = u8(a[q + 1] * b0 + b[q + 1] * b1) - mG
                                        dst[q + oB] = u8(a[q + 2] * b0 + b[q + 2] * b1) - mB
                                    }
                                    return
                                }
                                for dx in 0..<nw {
                                    let q = 3 * dx
                                    dst[q + oR] = Float(a[q] * b0 + b[q] * b1) - mR
                                    dst[q + oG] = Float(a[q + 1] * b0 + b[q + 1] * b1) - mG
                                    dst[q + oB] = Float(a[q + 2] * b0 + b[q + 2] * b1) - mB
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Size of the resized image and where it sits in the H×W frame.
    struct Geometry: Equatable {
        var width: Int, height: Int, left: Int, top: Int

        init(spec: PreprocessSpec, srcWidth w: Int, srcHeight h: Int) {
            let H = spec.height, W = spec.width
            switch spec.resize {
            case .stretch:
                width = W; height = H
            case .keepAspectPad:
                // deepface: factor = min(H/h, W/w); dsize = (int(w*f), int(h*f)).
                let factor = min(Double(H) / Double(h), Double(W) / Double(w))
                // Python's int() truncates. A very thin image could reach 0,
                // where deepface's cv2.resize would fail: keep at least 1.
                width = min(W, max(1, Int(Double(w) * factor)))
                height = min(H, max(1, Int(Double(h) * factor)))
            }
            // np.pad with (diff//2, diff - diff//2): smaller half top/left.
            left = (W - width) / 2
            top = (H - height) / 2
        }
    }

    /// u8 → float64 value table. When 1/scale is an integer (1/255 = deepface)
    /// divide by it, so values equal numpy's `img / 255` bit for bit.
    static func valueTable(scale: Float) -> [Double] {
        let inverse = 1.0 / Double(scale)
        let rounded = inverse.rounded()
        let divide = scale > 0 && rounded >= 1 && abs(inverse - rounded) <= 1e-5 * rounded
        return (0..<256).map { divide ? Double($0) / rounded : Double($0) * Double(scale) }
    }
}

/// OpenCV INTER_LINEAR taps for one axis: source x = (d + 0.5) * scale - 0.5,
/// s = floor(x), weights (1 - f, f) on s and s + 1; outside the image both
/// taps clamp to the border with f = 0. At a clamped border the second tap
/// has weight exactly 0, which equals OpenCV's single-pixel path bit for bit.
struct LinearTaps {
    var i0: [Int32], i1: [Int32], w0: [Double], w1: [Double]

    init(src: Int, dst: Int, arithmetic: ResizeArithmetic) {
        i0 = []; i1 = []; w0 = []; w1 = []
        i0.reserveCapacity(dst); i1.reserveCapacity(dst); w0.reserveCapacity(dst); w1.reserveCapacity(dst)
        for d in 0..<dst {
            var s: Int
            var a0: Double, a1: Double
            switch arithmetic {
            case .float32Weights:
                // resize.cpp: scale_x = 1./inv_scale_x; fx = (float)(...); fx -= sx; cbuf = {1.f - fx, fx}
                let scale = 1.0 / (Double(dst) / Double(src))
                var fx = Float((Double(d) + 0.5) * scale - 0.5)
                s = Int(fx.rounded(.down))
                fx -= Float(s)
                if s < 0 { fx = 0; s = 0 }
                if s >= src - 1 { fx = 0; s = src - 1 }
                a0 = Double(1 - fx); a1 = Double(fx)
            case .float64:
                // src/dst rather than 1/(dst/src): closest to IPP (~1e-14 vs ~4e-13).
                let scale = Double(src) / Double(dst)
                var fx = (Double(d) + 0.5) * scale - 0.5
                s = Int(fx.rounded(.down))
                fx -= Double(s)
                if s < 0 { fx = 0; s = 0 }
                if s >= src - 1 { fx = 0; s = src - 1 }
                a0 = 1 - fx; a1 = fx
            }
            i0.append(Int32(s))
            i1.append(Int32(min(s + 1, src - 1)))
            w0.append(a0)
            w1.append(a1)
        }
    }

    func withPointers<R>(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Double>, UnsafePointer<Double>) -> R) -> R {
        i0.withUnsafeBufferPointer { a in
            i1.withUnsafeBufferPointer { b in
                w0.withUnsafeBufferPointer { c in
                    w1.withUnsafeBufferPointer { d in body(a.baseAddress!, b.baseAddress!, c.baseAddress!, d.baseAddress!) }
                }
            }
        }
    }
}
