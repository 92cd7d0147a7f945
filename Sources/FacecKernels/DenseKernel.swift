/// Batch-1 dense layer y = x·W + b with W [In][OutPad8] row-major: every
/// weight is used once, so the layer is bound by memory bandwidth. Rows are
/// split into one contiguous range per task (sequential streaming), each
/// accumulating a partial sum in its own L1-resident buffer; zero inputs
/// (common after ReLU) skip their weight row entirely. Partials are then summed.
package enum DenseKernel {
    typealias F8 = SIMD8<Float>

    /// Rows [r0, r1) into partial[0..<P). The weights may be stored as
    /// float32, half or int8 (`Step.packed`): reduced weights halve or
    /// quarter the bytes this memory-bound loop streams. int8 sums are
    /// unscaled here; `reduce` applies the per-channel scales.
    package static func partial(_ s: Step, input x: UnsafePointer<Float>, rows r0: Int, _ r1: Int, into acc: UnsafeMutablePointer<Float>) {
        switch s.storedWeights {
        case .f32(let w): partial(s, weights: w, input: x, rows: r0, r1, into: acc)
        case .f16(let w): partial(s, weights: w, input: x, rows: r0, r1, into: acc)
        case .i8(let w, _): partial(s, weights: w, input: x, rows: r0, r1, into: acc)
        }
    }

    private static func partial<W: WeightElement>(_ s: Step, weights w: UnsafePointer<W>, input x: UnsafePointer<Float>,
                                                  rows r0: Int, _ r1: Int, into acc: UnsafeMutablePointer<Float>) {
        let P = s.paddedOut
        acc.update(repeating: 0, count: P)
        var i = r0
        while i < r1 {
            // Gather up to 4 non-zero rows, then one pass over the accumulator.
            var idx: (Int, Int, Int, Int) = (0, 0, 0, 0)
            var n = 0
            while i < r1 && n < 4 {
                if x[i] != 0 {
                    switch n { case 0: idx.0 = i; case 1: idx.1 = i; case 2: idx.2 = i; default: idx.3 = i }
                    n += 1
                }
                i += 1
            }
            switch n {
            case 4:
                let v0 = F8(repeating: x[idx.0]), v1 = F8(repeating: x[idx.1]), v2 = F8(repeating: x[idx.2]), v3 = F8(repeating: x[idx.3])
                let w0 = w + idx.0 * P, w1 = w + idx.1 * P, w2 = w + idx.2 * P, w3 = w + idx.3 * P
                var o = 0
                while o < P {
                    var a = load(acc + o)
                    a = a.addingProduct(v0, W.load8(w0 + o)); a = a.addingProduct(v1, W.load8(w1 + o))
                    a = a.addingProduct(v2, W.load8(w2 + o)); a = a.addingProduct(v3, W.load8(w3 + o))
                    store(a, acc + o)
                    o += 8
                }
            case 0: break
            default:
                for k in 0..<n {
                    let r = k == 0 ? idx.0 : k == 1 ? idx.1 : idx.2
                    let v = F8(repeating: x[r]), wr = w + r * P
                    var o = 0
                    while o < P { store(load(acc + o).addingProduct(v, W.load8(wr + o)), acc + o); o += 8 }
                }
            }
        }
    }

    /// y = bias + Σ partials (× scale for int8), ReLU if fused; only the
    /// real outputs are stored.
    package static func reduce(_ s: Step, partials: UnsafePointer<Float>, count: Int, stride: Int, output y: UnsafeMutablePointer<Float>) {
        let b = s.bias!
        var scales: UnsafePointer<Float>? = nil
        if case .i8(_, let sc) = s.storedWeights { scales = sc }
        for o in 0..<s.outShape.c {
            var v: Float
            if let scales {
                var sum: Float = 0
                for k in 0..<count { sum += partials[k * stride + o] }
                v = b[o] + sum * scales[o]
            } else {
                v = b[o]
                for k in 0..<count { v += partials[k * stride + o] }
            }
            y[o] = s.relu ? max(v, 0) : v
        }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
    @inline(__always) static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeUnaligned(v) }
}

extension UnsafeMutableRawPointer {
    @inline(__always) func storeUnaligned(_ v: SIMD8<Float>) { storeBytes(of: v, as: SIMD8<Float>.self) }
}
