/// A direct convolution with few output channels fused with the 2×2,
/// stride-2 max pooling that follows it (DeepID Conv1 + Pool1: 20 channels).
///
/// The channel-vectorised tile (`ConvTile512`) fills 32 lanes with 20
/// channels and wastes 37.5% of every FMA. Here each zmm holds 16
/// neighbouring output pixels of one channel instead, read from the input as
/// planes (`[C][rows][PWp]`: one row of one channel is contiguous, so 16
/// neighbouring pixels are one load; horizontal stride 1). Sums in this
/// layout must be transposed to NHWC, which costs about what the lanes save;
/// pooling first makes that 4× cheaper: the two conv rows of a pooled row are
/// max-ed as vectors, then lane pairs as they are stored. The conv output is
/// never written.
///
/// One tile: 2 conv rows × 16 pixels × 10 channels = 20 accumulators; each
/// step is 2 loads and 10 weight broadcasts for 20 FMAs.
public enum ConvPool512 {
    public typealias F16 = SIMD16<Float>

    /// Conv pixels per vector, and channels per tile.
    public static let pixels = 16
    public static let channels = 10

    /// Pooled row `py` (conv rows 2py, 2py + 1), pooled columns ox0/2 ..<
    /// ox0/2 + pooled, channels cb ..< cb + cn (cn ≤ 10; 10 weights and biases
    /// are read, so the caller checks cb + 10 ≤ P). Plane c's row r starts at
    /// planar + (c · rows + r) · PWp; the planes hold the zero-padded input
    /// with at least ox0 + 15 + KW columns. Weights [KH][KW][C][P]. Output
    /// NHWC, `POW` pooled columns, CO channels.
    @inline(never)
    public static func tile(planar: UnsafePointer<Float>, rows: Int, PWp: Int, C: Int, KH: Int, KW: Int, sy: Int,
                            py: Int, ox0: Int, pooled: Int,
                            w: UnsafePointer<Float>, P: Int, cb: Int, cn: Int, bias: UnsafePointer<Float>, relu: Bool,
                            out: UnsafeMutablePointer<Float>, POW: Int, CO: Int) {
        let b = bias + cb
        var a0 = F16(repeating: b[0]), a1 = F16(repeating: b[1]), a2 = F16(repeating: b[2]), a3 = F16(repeating: b[3])
        var a4 = F16(repeating: b[4]), a5 = F16(repeating: b[5]), a6 = F16(repeating: b[6]), a7 = F16(repeating: b[7])
        var a8 = F16(repeating: b[8]), a9 = F16(repeating: b[9])
        var c0 = a0, c1 = a1, c2 = a2, c3 = a3, c4 = a4, c5 = a5, c6 = a6, c7 = a7, c8 = a8, c9 = a9
        let oy = 2 * py, next = sy * PWp    // the second conv row's input, sy rows down
        for ci in 0..<C {
            let plane = planar + ci * rows * PWp + oy * sy * PWp + ox0
            for ky in 0..<KH {
                let xrow = plane + ky * PWp
                var wp = w + (ky * KW * C + ci) * P + cb
                for kx in 0..<KW {
                    let x0 = UnsafeRawPointer(xrow + kx).loadUnaligned(as: F16.self)
                    let x1 = UnsafeRawPointer(xrow + kx + next).loadUnaligned(as: F16.self)
                    var v = F16(repeating: wp[0]); a0 = a0.addingProduct(x0, v); c0 = c0.addingProduct(x1, v)
                    v = F16(repeating: wp[1]); a1 = a1.addingProduct(x0, v); c1 = c1.addingProduct(x1, v)
                    v = F16(repeating: wp[2]); a2 = a2.addingProduct(x0, v); c2 = c2.addingProduct(x1, v)
                    v = F16(repeating: wp[3]); a3 = a3.addingProduct(x0, v); c3 = c3.addingProduct(x1, v)
                    v = F16(repeating: wp[4]); a4 = a4.addingProduct(x0, v); c4 = c4.addingProduct(x1, v)
                    v = F16(repeating: wp[5]); a5 = a5.addingProduct(x0, v); c5 = c5.addingProduct(x1, v)
                    v = F16(repeating: wp[6]); a6 = a6.addingProduct(x0, v); c6 = c6.addingProduct(x1, v)
                    v = F16(repeating: wp[7]); a7 = a7.addingProduct(x0, v); c7 = c7.addingProduct(x1, v)
                    v = F16(repeating: wp[8]); a8 = a8.addingProduct(x0, v); c8 = c8.addingProduct(x1, v)
                    v = F16(repeating: wp[9]); a9 = a9.addingProduct(x0, v); c9 = c9.addingProduct(x1, v)
                    wp += C * P
                }
            }
        }
        // Vertical max (ReLU commutes with max), then lane pairs on the way out.
        withUnsafeTemporaryAllocation(of: F16.self, capacity: 10) { t in
            let z = F16(repeating: 0)
            @inline(__always) func m(_ u: F16, _ v: F16) -> F16 {
                let r = u.replacing(with: v, where: v .> u)
                return relu ? r.replacing(with: z, where: r .< z) : r
            }
            t[0] = m(a0, c0); t[1] = m(a1, c1); t[2] = m(a2, c2); t[3] = m(a3, c3); t[4] = m(a4, c4)
            t[5] = m(a5, c5); t[6] = m(a6, c6); t[7] = m(a7, c7); t[8] = m(a8, c8); t[9] = m(a9, c9)
            let s = UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: Float.self)
            let o = out + (py * POW + ox0 / 2) * CO + cb
            for k in 0..<cn {
                let row = s + k * 16
                var p = o + k
                for j in 0..<pooled { p.pointee = max(row[2 * j], row[2 * j + 1]); p += CO }
            }
        }
    }
}
