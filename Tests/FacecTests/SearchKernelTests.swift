import Testing
@testable import FacecSearchKernels

/// The gallery's dot-product tiles (`DotKernel`: 3×4, 8×1, 4×1 and 1×1
/// tiles over groups of eight rows) against a plain loop, for float32 and
/// half-precision packed rows, through the conformance harness.
@Suite struct SearchKernelTests {
    @Test(arguments: [(1, 1, 8), (4, 3, 128), (5, 7, 128), (2, 11, 160), (4, 9, 2622), (3, 17, 4096), (9, 25, 13)])
    func dotTilesMatchAPlainLoop(_ c: (queries: Int, groups: Int, dim: Int)) {
        var rng = Conformance.Rng(state: UInt64(c.queries * 1000 + c.groups * 10 + c.dim))
        let lanes = FaceMatrix.lanes, rows = c.groups * lanes
        let plain = (0..<rows).map { _ in (0..<c.dim).map { _ in rng.next() } }
        let queries = (0..<(c.queries * c.dim)).map { _ in rng.next() }
        // FaceMatrix's layout: group g, dimension d, lane l at (g·dim + d)·8 + l.
        var packed = [Float](repeating: 0, count: rows * c.dim)
        for r in 0..<rows { for d in 0..<c.dim { packed[((r / lanes) * c.dim + d) * lanes + r % lanes] = plain[r][d] } }
        let half = packed.map { Float16($0) }
        for precision in [Conformance.Precision.f32, .reducedWeights] {
            var want = [Float](repeating: 0, count: c.queries * rows)
            for q in 0..<c.queries {
                for r in 0..<rows {
                    var s = 0.0
                    for d in 0..<c.dim {
                        let x = precision == .f32 ? plain[r][d] : Float(Float16(plain[r][d]))
                        s += Double(queries[q * c.dim + d]) * Double(x)
                    }
                    want[q * rows + r] = Float(s)
                }
            }
            var got = [Float](repeating: .nan, count: c.queries * rows)
            queries.withUnsafeBufferPointer { qs in
                got.withUnsafeMutableBufferPointer { out in
                    if precision == .f32 {
                        packed.withUnsafeBufferPointer { DotKernel.dots(queries: qs.baseAddress!, queryCount: c.queries, groups: $0.baseAddress!,
                                                                          groupCount: c.groups, dim: c.dim, out: out.baseAddress!) }
                    } else {
                        half.withUnsafeBufferPointer { DotKernel.dots(queries: qs.baseAddress!, queryCount: c.queries, groups: $0.baseAddress!,
                                                                        groupCount: c.groups, dim: c.dim, out: out.baseAddress!) }
                    }
                }
            }
            Conformance.expect("gallery dot", shape: "\(c.queries) queries × \(rows) rows × \(c.dim)", precision: precision, got: got, want: want)
        }
    }
}
