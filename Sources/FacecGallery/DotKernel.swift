/// Dot products of a few queries against a block of gallery rows: the inner
/// loop of exact search. Memory-bound for one query (each row is read once,
/// 8 lanes at a time, 4 rows in flight); for several queries a block of rows
/// stays in cache while every query passes over it, and 4 rows × 2 queries
/// share their loads (8 independent FMA chains).
enum DotKernel {
    /// out[q * rowCount + r] = queries[q] · rows[r] for q < queryCount, r < rowCount.
    static func dots(queries: UnsafePointer<Float>, queryCount: Int, rows: UnsafePointer<Float>, rowCount: Int,
                     dim: Int, out: UnsafeMutablePointer<Float>) {
        var q = 0
        while q + 2 <= queryCount {
            var r = 0
            while r + 4 <= rowCount {
                dots4x2(rows + r * dim, queries + q * dim, dim: dim, out + q * rowCount + r, stride: rowCount)
                r += 4
            }
            while r < rowCount {
                out[q * rowCount + r] = dot(rows + r * dim, queries + q * dim, dim)
                out[(q + 1) * rowCount + r] = dot(rows + r * dim, queries + (q + 1) * dim, dim)
                r += 1
            }
            q += 2
        }
        if q < queryCount {
            var r = 0
            while r + 4 <= rowCount {
                dots4x1(rows + r * dim, queries + q * dim, dim: dim, out + q * rowCount + r)
                r += 4
            }
            while r < rowCount {
                out[q * rowCount + r] = dot(rows + r * dim, queries + q * dim, dim)
                r += 1
            }
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>, _ k: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + k).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func dots4x2(_ rows: UnsafePointer<Float>, _ qs: UnsafePointer<Float>, dim: Int,
                                _ out: UnsafeMutablePointer<Float>, stride: Int) {
        let r0 = rows, r1 = rows + dim, r2 = rows + 2 * dim, r3 = rows + 3 * dim
        let q0 = qs, q1 = qs + dim
        var a00 = SIMD8<Float>(), a10 = SIMD8<Float>(), a20 = SIMD8<Float>(), a30 = SIMD8<Float>()
        var a01 = SIMD8<Float>(), a11 = SIMD8<Float>(), a21 = SIMD8<Float>(), a31 = SIMD8<Float>()
        var k = 0
        while k + 8 <= dim {
            let x0 = load(q0, k), x1 = load(q1, k)
            let w0 = load(r0, k), w1 = load(r1, k), w2 = load(r2, k), w3 = load(r3, k)
            a00 = a00.addingProduct(w0, x0); a01 = a01.addingProduct(w0, x1)
            a10 = a10.addingProduct(w1, x0); a11 = a11.addingProduct(w1, x1)
            a20 = a20.addingProduct(w2, x0); a21 = a21.addingProduct(w2, x1)
            a30 = a30.addingProduct(w3, x0); a31 = a31.addingProduct(w3, x1)
            k += 8
        }
        var s = (a00.sum(), a10.sum(), a20.sum(), a30.sum(), a01.sum(), a11.sum(), a21.sum(), a31.sum())
        while k < dim {
            s.0 += r0[k] * q0[k]; s.1 += r1[k] * q0[k]; s.2 += r2[k] * q0[k]; s.3 += r3[k] * q0[k]
            s.4 += r0[k] * q1[k]; s.5 += r1[k] * q1[k]; s.6 += r2[k] * q1[k]; s.7 += r3[k] * q1[k]
            k += 1
        }
        out[0] = s.0; out[1] = s.1; out[2] = s.2; out[3] = s.3
        out[stride] = s.4; out[stride + 1] = s.5; out[stride + 2] = s.6; out[stride + 3] = s.7
    }

    @inline(__always)
    private static func dots4x1(_ rows: UnsafePointer<Float>, _ q: UnsafePointer<Float>, dim: Int, _ out: UnsafeMutablePointer<Float>) {
        let r0 = rows, r1 = rows + dim, r2 = rows + 2 * dim, r3 = rows + 3 * dim
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var k = 0
        while k + 8 <= dim {
            let x = load(q, k)
            a0 = a0.addingProduct(load(r0, k), x); a1 = a1.addingProduct(load(r1, k), x)
            a2 = a2.addingProduct(load(r2, k), x); a3 = a3.addingProduct(load(r3, k), x)
            k += 8
        }
        var s = (a0.sum(), a1.sum(), a2.sum(), a3.sum())
        while k < dim {
            s.0 += r0[k] * q[k]; s.1 += r1[k] * q[k]; s.2 += r2[k] * q[k]; s.3 += r3[k] * q[k]
            k += 1
        }
        out[0] = s.0; out[1] = s.1; out[2] = s.2; out[3] = s.3
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dim: Int) -> Float {
        var acc = SIMD8<Float>()
        var k = 0
        while k + 8 <= dim { acc = acc.addingProduct(load(a, k), load(b, k)); k += 8 }
        var s = acc.sum()
        while k < dim { s += a[k] * b[k]; k += 1 }
        return s
    }
}
