/// Compile-time half of Winograd F(4×4, 3×3) (Lavin & Gray 2016): each 3×3
/// kernel g becomes U = G g Gᵀ (6×6), stored as [36][CinPad8][CoutPad8] so the
/// runtime does 36 plain matrix products per tile block. Computed in Double.
enum WinogradWeights {
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
                        out[((i * 6 + j) * cinPad + ci) * coutPad + co] = Float(u)
                    }
                }
            }
        }
        return out
    }
}
