import CCPUFeatures

/// A stored weight element the 16-lane tiles widen to float32 as they load
/// (float32, IEEE half via `vcvtph2ps`, int8 via `vpmovsxbd` + `vcvtdq2ps`).
/// Each 16-lane load is built from two 8-lane halves: LLVM fuses them into
/// one zmm conversion, where a direct SIMD16 conversion calls out of line.
protocol Wide {
    static func load16(_ p: UnsafePointer<Self>, _ lanes: Int) -> SIMD16<Float>
    static func prefetch(_ p: UnsafePointer<Self>)
}

extension Wide {
    @inline(__always)
    static func prefetch(_ p: UnsafePointer<Self>) { facec_prefetch(UnsafeRawPointer(p)) }
}

extension Float: Wide {
    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>, _ lanes: Int) -> SIMD16<Float> { ConvTile512.load(p, lanes) }
}

extension Float16: Wide {
    @inline(__always)
    static func load16(_ p: UnsafePointer<Float16>, _ lanes: Int) -> SIMD16<Float> {
        let lo = SIMD8<Float>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float16>.self))
        if lanes < 16 { return SIMD16(lowHalf: lo, highHalf: SIMD8()) }
        return SIMD16(lowHalf: lo, highHalf: SIMD8<Float>(UnsafeRawPointer(p + 8).loadUnaligned(as: SIMD8<Float16>.self)))
    }
}

extension Int8: Wide {
    @inline(__always)
    static func load16(_ p: UnsafePointer<Int8>, _ lanes: Int) -> SIMD16<Float> {
        let lo = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Int8>.self)))
        if lanes < 16 { return SIMD16(lowHalf: lo, highHalf: SIMD8()) }
        let hi = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(p + 8).loadUnaligned(as: SIMD8<Int8>.self)))
        return SIMD16(lowHalf: lo, highHalf: hi)
    }
}
