import FacecCore
#if canImport(Glibc)
import Glibc
#endif

/// MATLAB's column-major filters to the compiler's HWIO order.
enum ColumnMajor {
    /// Bytes of output slabs filled per pass over the source.
    static let passBytes = 64 << 20
    static let workers = systemCoreCount()
    static let tileInputs = 32, tileOutputs = 64

    /// Streams a column-major [H W Cin Cout] array (element (h,w,ci,co) at
    /// h + H*(w + W*(ci + Cin*co))) as HWIO, one (h, w) slab of Cin×Cout
    /// values per sink call. Each pass fills as many consecutive slabs as
    /// `passBytes` holds, so a source cache line (neighbouring h and w of
    /// one (ci, co)) is read once per pass rather than once per slab: all 9
    /// slabs of a 3×3 kernel in one pass, VGG fc6's 49 in 7 instead of 49.
    package static func streamHWIO(_ src: UnsafeBufferPointer<Float>, height H: Int, width W: Int, inputs Cin: Int, outputs Cout: Int,
                           into sink: FloatSink) throws {
        let slab = Cin * Cout, hw = H * W
        precondition(src.count == hw * slab, "column-major source of \(src.count) values for \(H)×\(W)×\(Cin)×\(Cout)")
        guard slab > 0, let base = src.baseAddress else { return }
        let group = max(1, min(hw, passBytes / (slab * 4)))
        var slabs = [Float](repeating: 0, count: group * slab)
        var offsets = [Int](repeating: 0, count: group)
        for first in stride(from: 0, to: hw, by: group) {
            let n = min(group, hw - first)
            // Sink slab s = h*W + w starts at source offset h + H*w.
            for k in 0..<n { offsets[k] = (first + k) / W + H * ((first + k) % W) }
            slabs.withUnsafeMutableBufferPointer { out in
                offsets.withUnsafeBufferPointer { offset in
                    // Tiles of input × output channels: a tile reads short
                    // contiguous runs (one output channel's block of input
                    // channels) and writes short rows, both within a few
                    // pages. Tile rows are split across the cores (disjoint
                    // output rows).
                    let ciTiles = (Cin + tileInputs - 1) / tileInputs
                    let parts = slab >= 1 << 16 ? min(ciTiles, workers) : 1
                    Threads.parallelFor(iterations: parts, threads: parts) { part in
                        for tile in (ciTiles * part / parts)..<(ciTiles * (part + 1) / parts) {
                            let ci0 = tile * tileInputs, ci1 = min(Cin, ci0 + tileInputs)
                            for co0 in stride(from: 0, to: Cout, by: tileOutputs) {
                                for co in co0..<min(Cout, co0 + tileOutputs) {
                                    for ci in ci0..<ci1 {
                                        let p = base + hw * (ci + Cin * co)
                                        let o = ci * Cout + co
                                        for k in 0..<n { out[k * slab + o] = p[offset[k]] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for k in 0..<n { try slabs.withUnsafeBufferPointer { try sink(UnsafeBufferPointer(rebasing: $0[(k * slab)..<((k + 1) * slab)])) } }
        }
    }
}
