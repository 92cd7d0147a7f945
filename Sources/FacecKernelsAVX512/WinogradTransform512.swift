/// The Winograd F(4×4, 3×3) input and output transforms, 16 channels per
/// zmm vector (the runtime's 8-lane versions in WinogradKernel do the same
/// arithmetic; see there for the layouts). A 16-lane store fills a whole
/// 64-byte cache line of V or the output, which matters because each tile
/// writes 36 vectors to 36 places far apart.
public enum WinogradTransform512 {
    public typealias F16 = SIMD16<Float>

    /// Channels per call.
    public static let lanes = 16

    /// 16 floats from `p`, of which the first `valid` are read; the rest zero
    /// (so padded input channels are exact zeros, never NaN).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ valid: Int) -> F16 {
        if valid >= 16 { return UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
        var v = F16()
        for k in 0..<valid { v[k] = p[k] }
        return v
    }

    @inline(__always)
    static func store(_ v: F16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self) }

    /// V[ξ][c..c+16] = (Bᵀ d B)[ξ] for the 6×6 patch at `base` (pixel stride
    /// C, row stride `rowStride`); channel c+k exists for k < C − c.
    @inline(never)
    public static func inputTile(_ base: UnsafePointer<Float>, rowStride: Int, C: Int, c: Int,
                                 out: UnsafeMutablePointer<Float>, xiStride: Int) {
        // Two copies: full vectors (the common case, no per-load check) and a ragged last one.
        if C - c >= 16 {
            inputTile(base, rowStride: rowStride, C: C, c: c, valid: 16, out: out, xiStride: xiStride)
        } else {
            inputTile(base, rowStride: rowStride, C: C, c: c, valid: C - c, out: out, xiStride: xiStride)
        }
    }

    @inline(__always)
    static func inputTile(_ base: UnsafePointer<Float>, rowStride: Int, C: Int, c: Int, valid: Int,
                          out: UnsafeMutablePointer<Float>, xiStride: Int) {
        WinogradMath.withStackVectors36 { t in
            for j in 0..<6 {
                let col = base + j * C + c
                let (r0, r1, r2, r3, r4, r5) = WinogradMath.bt(load(col, valid), load(col + rowStride, valid), load(col + 2 * rowStride, valid),
                                                  load(col + 3 * rowStride, valid), load(col + 4 * rowStride, valid),
                                                  load(col + 5 * rowStride, valid))
                t[j] = r0; t[6 + j] = r1; t[12 + j] = r2; t[18 + j] = r3; t[24 + j] = r4; t[30 + j] = r5
            }
            for i in 0..<6 {
                let (v0, v1, v2, v3, v4, v5) = WinogradMath.bt(t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5])
                let o = out + (i * 6) * xiStride
                store(v0, o); store(v1, o + xiStride); store(v2, o + 2 * xiStride)
                store(v3, o + 3 * xiStride); store(v4, o + 4 * xiStride); store(v5, o + 5 * xiStride)
            }
        }
    }

    /// Output tile: Y = Aᵀ M A for 16 channels of M (ξ stride `xiStride`),
    /// + bias, ReLU, stored for `rows` × `cols` pixels and `valid` channels.
    @inline(never)
    public static func outputTile(_ m: UnsafePointer<Float>, xiStride: Int, bias: UnsafePointer<Float>, relu: Bool,
                                  out: UnsafeMutablePointer<Float>, rowStride: Int, CO: Int, rows: Int, cols: Int, valid: Int) {
        WinogradMath.withStackVectors36 { t in
            for j in 0..<6 {
                let (o0, o1, o2, o3) = WinogradMath.at(load(m + j * xiStride, 16), load(m + (6 + j) * xiStride, 16),
                                          load(m + (12 + j) * xiStride, 16), load(m + (18 + j) * xiStride, 16),
                                          load(m + (24 + j) * xiStride, 16), load(m + (30 + j) * xiStride, 16))
                t[j] = o0; t[6 + j] = o1; t[12 + j] = o2; t[18 + j] = o3
            }
            let b = load(bias, 16), zero = F16()
            for i in 0..<rows {
                let (y0, y1, y2, y3) = WinogradMath.at(t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5])
                let row = out + i * rowStride
                @inline(__always) func put(_ j: Int, _ v: F16) {
                    guard j < cols else { return }
                    var r = v + b
                    if relu { r = r.replacing(with: zero, where: r .< zero) }
                    let p = row + j * CO
                    if valid >= 16 { store(r, p) } else { for k in 0..<valid { p[k] = r[k] } }
                }
                put(0, y0); put(1, y1); put(2, y2); put(3, y3)
            }
        }
    }

}
