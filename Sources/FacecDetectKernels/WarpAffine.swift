import FacecImage
#if canImport(Glibc)
import Glibc
#endif

/// OpenCV's `warpAffine(INTER_CUBIC, BORDER_CONSTANT 0)` of an 8-bit
/// 3-channel image, bit for bit: the forward matrix inverted in double,
/// source positions in 10-bit fixed point per pixel (`x·M0` and `y·M1 + M2`
/// rounded separately), cut to 1/32 pixel; the 4×4 bicubic weights (A =
/// −0.75) tabulated per 1/32 in float, scaled to 15-bit integers that sum to
/// exactly 2^15; taps outside the source count as black; results rounded
/// `(Σ + 2^14) >> 15` and saturated.
package enum WarpAffine {
    /// cv2.getRotationMatrix2D(center, angle, 1.0) (center as float).
    package static func rotation(centerX: Float, centerY: Float, degrees angle: Double) -> [Double] {
        let a = angle * (Double.pi / 180)
        let alpha = cos(a), beta = sin(a)
        let cx = Double(centerX), cy = Double(centerY)
        return [alpha, beta, (1 - alpha) * cx - beta * cy,
                -beta, alpha, beta * cx + (1 - alpha) * cy]
    }

    /// The inverse map warpAffine computes when WARP_INVERSE_MAP is not set.
    static func inverted(_ m: [Double]) -> [Double] {
        var M = m
        var D = M[0] * M[4] - M[1] * M[3]
        D = D != 0 ? 1 / D : 0
        let A11 = M[4] * D, A22 = M[0] * D
        M[0] = A11; M[1] *= -D
        M[3] *= -D; M[4] = A22
        let b1 = -M[0] * M[2] - M[1] * M[5]
        let b2 = -M[3] * M[2] - M[4] * M[5]
        M[2] = b1; M[5] = b2
        return M
    }

    /// The 1024 tables of 16 bicubic weights (initInterTab2D(INTER_CUBIC, fixed point)).
    static let cubicWeights: [Int16] = {
        let tabSize = 32
        var oneD = [Float](repeating: 0, count: tabSize * 4)
        let scale: Float = 1 / Float(tabSize)
        for i in 0..<tabSize {
            let x = Float(i) * scale
            let A: Float = -0.75
            let c0 = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A
            let c1 = ((A + 2) * x - (A + 3)) * x * x + 1
            let c2 = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1
            let c3 = 1 - c0 - c1 - c2
            oneD[4 * i] = c0; oneD[4 * i + 1] = c1; oneD[4 * i + 2] = c2; oneD[4 * i + 3] = c3
        }
        var tab = [Int16](repeating: 0, count: tabSize * tabSize * 16)
        for i in 0..<tabSize {
            for j in 0..<tabSize {
                let base = (i * tabSize + j) * 16
                var sum = 0
                for k1 in 0..<4 {
                    let vy = oneD[i * 4 + k1]
                    for k2 in 0..<4 {
                        let v = vy * oneD[j * 4 + k2]
                        let w = Int16(clamping: Int(lrintf(v * 32768)))
                        tab[base + k1 * 4 + k2] = w
                        sum += Int(w)
                    }
                }
                if sum != 32768 {
                    let diff = sum - 32768
                    var (M1, M2, m1, m2) = (2, 2, 2, 2)
                    for k1 in 2..<4 {
                        for k2 in 2..<4 {
                            if tab[base + k1 * 4 + k2] < tab[base + m1 * 4 + m2] { (m1, m2) = (k1, k2) } else if tab[base + k1 * 4 + k2] > tab[base + M1 * 4 + M2] { (M1, M2) = (k1, k2) }
                        }
                    }
                    if diff < 0 { tab[base + M1 * 4 + M2] = Int16(Int(tab[base + M1 * 4 + M2]) - diff) } else { tab[base + m1 * 4 + m2] = Int16(Int(tab[base + m1 * 4 + m2]) - diff) }
                }
            }
        }
        return tab
    }()

    /// Warps `src` by the forward affine map `m` into a width×height image,
    /// or only the part `region` of it (each output pixel depends on its
    /// position alone, so a part is exactly the same pixels as the whole).
    package static func cubic(_ src: DecodedImage, forward m: [Double], width fullWidth: Int, height fullHeight: Int,
                      region: PixelRect? = nil) -> DecodedImage {
        let r = region ?? PixelRect(x: 0, y: 0, width: fullWidth, height: fullHeight)
        let width = r.width, height = r.height
        let M = inverted(m)
        let abScale = 1024.0, roundDelta: Int32 = 16
        let adelta = (0..<width).map { Int32(clamping: lrint(M[0] * Double(r.x + $0) * abScale)) }
        let bdelta = (0..<width).map { Int32(clamping: lrint(M[3] * Double(r.x + $0) * abScale)) }
        let sw = src.width, sh = src.height
        let width1 = UInt32(max(sw - 3, 0)), height1 = UInt32(max(sh - 3, 0))
        var out = [UInt8](repeating: 0, count: width * height * 3)
        src.pixels.withUnsafeBufferPointer { S0 in
            cubicWeights.withUnsafeBufferPointer { wtab in
                out.withUnsafeMutableBufferPointer { D in
                    for y in 0..<height {
                        let X0 = Int32(clamping: lrint((M[1] * Double(r.y + y) + M[2]) * abScale)) &+ roundDelta
                        let Y0 = Int32(clamping: lrint((M[4] * Double(r.y + y) + M[5]) * abScale)) &+ roundDelta
                        for x in 0..<width {
                            let X = (X0 &+ adelta[x]) >> 5, Y = (Y0 &+ bdelta[x]) >> 5
                            let sx = Int(Int16(clamping: X >> 5)) - 1, sy = Int(Int16(clamping: Y >> 5)) - 1
                            let w = wtab.baseAddress! + Int((Y & 31) * 32 + (X & 31)) * 16
                            let d = D.baseAddress! + (y * width + x) * 3
                            if UInt32(truncatingIfNeeded: sx) < width1 && UInt32(truncatingIfNeeded: sy) < height1 {
                                for k in 0..<3 {
                                    var sum: Int32 = 0
                                    for i in 0..<4 {
                                        let row = S0.baseAddress! + ((sy + i) * sw + sx) * 3 + k
                                        sum &+= Int32(row[0]) * Int32(w[4 * i]) &+ Int32(row[3]) * Int32(w[4 * i + 1])
                                            &+ Int32(row[6]) * Int32(w[4 * i + 2]) &+ Int32(row[9]) * Int32(w[4 * i + 3])
                                    }
                                    d[k] = UInt8(clamping: (sum &+ 16384) >> 15)
                                }
                            } else if sx >= sw || sx + 4 <= 0 || sy >= sh || sy + 4 <= 0 {
                                d[0] = 0; d[1] = 0; d[2] = 0
                            } else {
                                for k in 0..<3 {
                                    var sum: Int32 = 0
                                    for i in 0..<4 where (0..<sh).contains(sy + i) {
                                        for j in 0..<4 where (0..<sw).contains(sx + j) {
                                            sum &+= Int32(S0[((sy + i) * sw + sx + j) * 3 + k]) * Int32(w[4 * i + j])
                                        }
                                    }
                                    d[k] = UInt8(clamping: (sum &+ 16384) >> 15)
                                }
                            }
                        }
                    }
                }
            }
        }
        return DecodedImage(width: width, height: height, pixels: out)
    }
}
