/// Dot products of queries against groups of 8 gallery rows in FaceMatrix's
/// packed layout: the inner loop of exact search. Each vector load is one
/// dimension of 8 rows, multiplied by that dimension of a query broadcast to
/// all lanes. Several queries share each load (3 groups × 4 queries: 12
/// independent FMA chains, the register file of AVX2), so a batch of queries
/// runs near the FMA peak while one query is bound by memory bandwidth.
/// The rows are float32 or half (FaceMatrix.halfPacked: widened by one
/// vcvtph2ps per load, all arithmetic float32).
enum DotKernel {
    static let lanes = FaceMatrix.lanes

    /// out[q * groupCount * 8 + r] = queries[q] · row r of the groups, for
    /// q < queryCount and r < groupCount * 8 (padding rows give 0).
    static func dots<E: PackedValue>(queries: UnsafePointer<Float>, queryCount: Int, groups: UnsafePointer<E>, groupCount: Int,
                     dim: Int, out: UnsafeMutablePointer<Float>) {
        let rowCount = groupCount * lanes
        var q = 0
        while q < queryCount {
            let qn = min(4, queryCount - q)
            var g = 0
            if qn == 4 {
                while g + 3 <= groupCount {
                    tile3x4(groups + g * lanes * dim, queries + q * dim, dim: dim, out + q * rowCount + g * lanes, stride: rowCount)
                    g += 3
                }
            }
            if qn < 4 {
                // Few queries: memory-bound; eight groups keep eight loads in flight.
                while g + 8 <= groupCount {
                    for j in 0..<qn {
                        tile8x1(groups + g * lanes * dim, queries + (q + j) * dim, dim: dim, out + (q + j) * rowCount + g * lanes)
                    }
                    g += 8
                }
            }
            while g + 4 <= groupCount {
                for j in 0..<qn {
                    tile4x1(groups + g * lanes * dim, queries + (q + j) * dim, dim: dim, out + (q + j) * rowCount + g * lanes)
                }
                g += 4
            }
            while g < groupCount {
                for j in 0..<qn {
                    tile1x1(groups + g * lanes * dim, queries + (q + j) * dim, dim: dim, out + (q + j) * rowCount + g * lanes)
                }
                g += 1
            }
            q += qn
        }
    }

    @inline(__always)
    private static func load<E: PackedValue>(_ p: UnsafePointer<E>) -> SIMD8<Float> { E.load8(p) }

    @inline(__always)
    private static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func tile3x4<E: PackedValue>(_ g: UnsafePointer<E>, _ qs: UnsafePointer<Float>, dim: Int,
                                _ out: UnsafeMutablePointer<Float>, stride: Int) {
        let g0 = g, g1 = g + lanes * dim, g2 = g + 2 * lanes * dim
        let q0 = qs, q1 = qs + dim, q2 = qs + 2 * dim, q3 = qs + 3 * dim
        var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a02 = SIMD8<Float>(), a03 = SIMD8<Float>()
        var a10 = SIMD8<Float>(), a11 = SIMD8<Float>(), a12 = SIMD8<Float>(), a13 = SIMD8<Float>()
        var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a22 = SIMD8<Float>(), a23 = SIMD8<Float>()
        for k in 0..<dim {
            let w0 = load(g0 + k * lanes), w1 = load(g1 + k * lanes), w2 = load(g2 + k * lanes)
            var x = SIMD8<Float>(repeating: q0[k])
            a00 = a00.addingProduct(w0, x); a10 = a10.addingProduct(w1, x); a20 = a20.addingProduct(w2, x)
            x = SIMD8<Float>(repeating: q1[k])
            a01 = a01.addingProduct(w0, x); a11 = a11.addingProduct(w1, x); a21 = a21.addingProduct(w2, x)
            x = SIMD8<Float>(repeating: q2[k])
            a02 = a02.addingProduct(w0, x); a12 = a12.addingProduct(w1, x); a22 = a22.addingProduct(w2, x)
            x = SIMD8<Float>(repeating: q3[k])
            a03 = a03.addingProduct(w0, x); a13 = a13.addingProduct(w1, x); a23 = a23.addingProduct(w2, x)
        }
        store(a00, out); store(a10, out + lanes); store(a20, out + 2 * lanes)
        store(a01, out + stride); store(a11, out + stride + lanes); store(a21, out + stride + 2 * lanes)
        store(a02, out + 2 * stride); store(a12, out + 2 * stride + lanes); store(a22, out + 2 * stride + 2 * lanes)
        store(a03, out + 3 * stride); store(a13, out + 3 * stride + lanes); store(a23, out + 3 * stride + 2 * lanes)
    }

    /// Four groups, one query (a single search: bound by memory, four loads in flight).
    @inline(__always)
    private static func tile4x1<E: PackedValue>(_ g: UnsafePointer<E>, _ q: UnsafePointer<Float>, dim: Int, _ out: UnsafeMutablePointer<Float>) {
        let step = lanes * dim
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        for k in 0..<dim {
            let x = SIMD8<Float>(repeating: q[k]), p = g + k * lanes
            a0 = a0.addingProduct(load(p), x); a1 = a1.addingProduct(load(p + step), x)
            a2 = a2.addingProduct(load(p + 2 * step), x); a3 = a3.addingProduct(load(p + 3 * step), x)
        }
        store(a0, out); store(a1, out + lanes); store(a2, out + 2 * lanes); store(a3, out + 3 * lanes)
    }

    /// Eight groups, one query: eight loads in flight per dimension.
    @inline(__always)
    private static func tile8x1<E: PackedValue>(_ g: UnsafePointer<E>, _ q: UnsafePointer<Float>, dim: Int, _ out: UnsafeMutablePointer<Float>) {
        let step = lanes * dim
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
        for k in 0..<dim {
            let x = SIMD8<Float>(repeating: q[k]), p = g + k * lanes
            a0 = a0.addingProduct(load(p), x); a1 = a1.addingProduct(load(p + step), x)
            a2 = a2.addingProduct(load(p + 2 * step), x); a3 = a3.addingProduct(load(p + 3 * step), x)
            a4 = a4.addingProduct(load(p + 4 * step), x); a5 = a5.addingProduct(load(p + 5 * step), x)
            a6 = a6.addingProduct(load(p + 6 * step), x); a7 = a7.addingProduct(load(p + 7 * step), x)
        }
        store(a0, out); store(a1, out + lanes); store(a2, out + 2 * lanes); store(a3, out + 3 * lanes)
        store(a4, out + 4 * lanes); store(a5, out + 5 * lanes); store(a6, out + 6 * lanes); store(a7, out + 7 * lanes)
    }

    /// One group, one query: two chains over alternate dimensions.
    @inline(__always)
    private static func tile1x1<E: PackedValue>(_ g: UnsafePointer<E>, _ q: UnsafePointer<Float>, dim: Int, _ out: UnsafeMutablePointer<Float>) {
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        var k = 0
        while k + 2 <= dim {
            a = a.addingProduct(load(g + k * lanes), SIMD8<Float>(repeating: q[k]))
            b = b.addingProduct(load(g + (k + 1) * lanes), SIMD8<Float>(repeating: q[k + 1]))
            k += 2
        }
        if k < dim { a = a.addingProduct(load(g + k * lanes), SIMD8<Float>(repeating: q[k])) }
        store(a + b, out)
    }
}

/// An element type of the packed gallery rows: 8 consecutive values widened to float32.
protocol PackedValue {
    static func load8(_ p: UnsafePointer<Self>) -> SIMD8<Float>
}

extension Float: PackedValue {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
}

extension Float16: PackedValue {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float16>) -> SIMD8<Float> {
        SIMD8<Float>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float16>.self))
    }
}
