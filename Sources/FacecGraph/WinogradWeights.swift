/// Compile-time half of Winograd F(4×4, 3×3) (Lavin & Gray 2016): each 3×3
/// kernel g becomes U = G g Gᵀ (6×6). Stored per position ξ in output-channel
/// chunks of 32, each chunk [CinPad8][≤32] contiguous ([36][chunks][Cin][32]):
/// a 32-channel micro-kernel tile streams one contiguous block, and the next
/// task's block follows it (the kernels prefetch across).
/// Computed in Double.
enum WinogradWeights {
    static let chunk = 32

    /// Offset of U[ξ][ci][co] in the chunked layout.
    @inline(__always)
    static func offset(xi: Int, ci: Int, co: Int, cinPad: Int, coutPad: Int) -> Int {
        let c0 = co / chunk * chunk, width = min(chunk, coutPad - c0)
        return xi * cinPad * coutPad + c0 * cinPad + ci * width + (co - c0)
    }

    static let G: [[Double]] = [
        [1.0 / 4, 0, 0],
        [-1.0 / 6, -1.0 / 6, -1.0 / 6],
        [-1.0 / 6, 1.0 / 6, -1.0 / 6],
        [1.0 / 24, 1.0 / 12, 1.0 / 6],
        [1.0 / 24, -1.0 / 12, 1.0 / 6],
        [0, 0, 1],
    ]

    /// HWIO [3][3][Cin][Cout] -> [36][cinPad][coutPad].
    static func transform(_ hwio: [Float], cin: Int, cout: Int, cinPad: Int, coutPad: Int) -> [Float] {
        var out = [Float](repeating: 0, count: 36 * cinPad * coutPad)
        var g = [[Double]](repeating: [0, 0, 0], count: 3)
        for ci in 0..<cin {
            for co in 0..<cout {
                for ky in 0..<3 { for kx in 0..<3 { g[ky][kx] = Double(hwio[((ky * 3 + kx) * cin + ci) * cout + co]) } }
                // t = G g (6×3), u = t Gᵀ (6×6)
                for i in 0..<6 {
                    var t = [0.0, 0.0, 0.0]
                    for k in 0..<3 { for j in 0..<3 { t[j] += G[i][k] * g[k][j] } }
                    for j in 0..<6 {
                        var u = 0.0
                        for k in 0..<3 { u += t[k] * G[j][k] }
                        out[offset(xi: i * 6 + j, ci: ci, co: co, cinPad: cinPad, coutPad: coutPad)] = Float(u)
                    }
                }
            }
        }
        return out
    }
}
