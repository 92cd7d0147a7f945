import FacecKernelsAVX512

/// A stored weight element that the 8-lane kernels widen to float32 as they
/// load it (`facec convert --weights f32|f16|int8`): all arithmetic stays
/// float32. With F16C (x86-64-v3) a half load is one `vcvtph2ps`; an int8
/// load is `vpmovsxbd` + `vcvtdq2ps`. int8 values are unscaled: the kernels
/// multiply each output channel's sum by its scale once, at the end.
protocol WeightElement {
    static func load8(_ p: UnsafePointer<Self>) -> SIMD8<Float>
    /// The AVX-512 direct-convolution tile for weights of this type (one
    /// non-generic entry point per type in FacecKernelsAVX512, so each is
    /// compiled there, for x86-64-v4).
    static func tile512(_ x: UnsafePointer<Float>, n: Int, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                        w: UnsafePointer<Self>, P: Int, span: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                        relu: Bool, out: UnsafeMutablePointer<Float>, CO: Int, valid: Int)
}

extension Float: WeightElement {
    @inline(__always)
    static func tile512(_ x: UnsafePointer<Float>, n: Int, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                        w: UnsafePointer<Float>, P: Int, span: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                        relu: Bool, out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        ConvTile512.tile(x, n: n, C: C, PW: PW, KH: KH, KW: KW, sx: sx, w: w, P: P, span: span, bias: bias, scales: scales,
                         relu: relu, out: out, CO: CO, valid: valid)
    }
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
}

extension Float16: WeightElement {
    @inline(__always)
    static func tile512(_ x: UnsafePointer<Float>, n: Int, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                        w: UnsafePointer<Float16>, P: Int, span: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                        relu: Bool, out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        ConvTile512.tile(x, n: n, C: C, PW: PW, KH: KH, KW: KW, sx: sx, w: w, P: P, span: span, bias: bias, scales: scales,
                         relu: relu, out: out, CO: CO, valid: valid)
    }
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float16>) -> SIMD8<Float> {
        SIMD8<Float>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float16>.self))
    }
}

extension Int8: WeightElement {
    @inline(__always)
    static func tile512(_ x: UnsafePointer<Float>, n: Int, C: Int, PW: Int, KH: Int, KW: Int, sx: Int,
                        w: UnsafePointer<Int8>, P: Int, span: Int, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                        relu: Bool, out: UnsafeMutablePointer<Float>, CO: Int, valid: Int) {
        ConvTile512.tile(x, n: n, C: C, PW: PW, KH: KH, KW: KW, sx: sx, w: w, P: P, span: span, bias: bias, scales: scales,
                         relu: relu, out: out, CO: CO, valid: valid)
    }
    /// Lane by lane on purpose: the vector conversions
    /// `SIMD8<Int32>(truncatingIfNeeded: SIMD8<Int8>)` and
    /// `SIMD8<Float>(SIMD8<Int32>)` are generic and were left as two calls
    /// per load, which made every int8 convolution 8× slower than float
    /// (13 GFLOP/s on a Zen 2); eight scalar conversions become
    /// `vpmovsxbd` + `vcvtdq2ps`.
    @inline(__always)
    static func load8(_ p: UnsafePointer<Int8>) -> SIMD8<Float> {
        SIMD8<Float>(Float(p[0]), Float(p[1]), Float(p[2]), Float(p[3]), Float(p[4]), Float(p[5]), Float(p[6]), Float(p[7]))
    }
}
