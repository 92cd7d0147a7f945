/// Winograd F(4×4, 3×3)'s transforms on six vectors of lanes, for any width:
/// the 8-lane kernels (FacecKernels, x86-64-v3) and the 16-lane ones
/// (WinogradTransform512, x86-64-v4) specialise this one definition, each
/// inlined and compiled with its own module's instruction set.
public enum WinogradMath {
    /// Bᵀ applied to a 6-vector.
    @inlinable @inline(__always)
    public static func bt<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V) -> (V, V, V, V, V, V) where V.Scalar == Float {
        let four = V(repeating: 4), five = V(repeating: 5), two = V(repeating: 2)
        let r0 = four * d0 - five * d2 + d4
        let r1 = -four * d1 - four * d2 + d3 + d4
        let r2 = four * d1 - four * d2 - d3 + d4
        let r3 = -two * d1 - d2 + two * d3 + d4
        let r4 = two * d1 - d2 - two * d3 + d4
        let r5 = four * d1 - five * d3 + d5
        return (r0, r1, r2, r3, r4, r5)
    }

    /// Aᵀ applied to a 6-vector.
    @inlinable @inline(__always)
    public static func at<V: SIMD>(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V, _ m5: V) -> (V, V, V, V) where V.Scalar == Float {
        let a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4
        let two = V(repeating: 2), four = V(repeating: 4), eight = V(repeating: 8)
        return (m0 + a + c, b + two * d, a + four * c, b + eight * d + m5)
    }

    /// 36 vectors of stack scratch: a tuple is always on the stack, while
    /// withUnsafeTemporaryAllocation decides at run time above 1 KB.
    @inlinable @inline(__always)
    public static func withStackVectors36<V: SIMD>(_ body: (UnsafeMutablePointer<V>) -> Void) where V.Scalar == Float {
        let z = V()
        let six = (z, z, z, z, z, z)
        var t = (six, six, six, six, six, six)
        withUnsafeMutableBytes(of: &t) { body($0.baseAddress!.assumingMemoryBound(to: V.self)) }
    }
}
