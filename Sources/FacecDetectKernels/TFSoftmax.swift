import CCPUFeatures
#if canImport(Glibc)
import Glibc
#endif

/// TensorFlow's float32 softmax over two logits as mtcnn 1.0.0's networks
/// get it from TF's x86 CPU kernel (`SoftmaxEigenImpl`: exp(x − max), then a
/// product with the reciprocal of the sum), with the Eigen that TF 2.21's
/// wheel is built with: AVX without FMA, so every multiply-add rounds twice.
/// `exp` is Eigen's `pexp_float` (a Cody–Waite reduction and a degree-6
/// polynomial), the reciprocal Eigen's `preciprocal`, the CPU's own estimate
/// (`rcpss`) refined by one Newton step. Against `tf.nn.softmax` on 25,000
/// logit pairs (this machine): 49,993 of 50,000 outputs identical, every
/// face probability above 0.5 identical, where `1 / (1 + exp(d))` matched
/// 40% and a saturated face score came out one ulp high (0.99999976 for TF's
/// 0.99999970), enough for mtcnn's sort and non-greedy suppression to keep
/// a different cell. Swift never contracts `a * b + c`, so the products and
/// sums below round as Eigen's separate AVX instructions do.
package enum TFSoftmax {
    /// Eigen's pexp_float without FMA, one lane.
    @inline(__always)
    package static func exp(_ input: Float) -> Float {
        let x = min(input, 88.723)
        let m = (x * 1.44269504088896341 + 0.5).rounded(.down)
        var r = m * -0.693359375 + x
        r = m * 2.12194440e-4 + r
        let r2 = r * r
        var even = r2 * 1.37449637986719608306884765625e-3 + 4.166965186595916748046875e-2
        let odd = r2 * 8.36894474923610687255859375e-3 + 0.16666518151760101318359375
        even = r2 * even + 0.49999988079071044921875
        let low = r + 1
        var y = r * odd + even
        y = r2 * y + low
        guard abs(x) <= 87 else {
            // Eigen's slow path (below e^-87 the result is denormal or zero).
            return input < -104 ? 0 : max(Float(Double(y) * exp2(Double(m))), input)
        }
        // pldexp_fast: y · 2^m through the exponent bits.
        let biased = UInt32(min(max(m + 127, 0), 255))
        return max(y * Float(bitPattern: biased << 23), input)
    }

    /// Eigen's preciprocal: the estimate x, then x + x·(1 − a·x).
    @inline(__always)
    package static func inverse(_ a: Float) -> Float {
        let x = facec_reciprocal_estimate(a)
        let t = 1 - a * x
        return t.isNaN ? x : x * t + x
    }

    /// Softmax over (l0, l1): the probability of class 1 (mtcnn's "face").
    @inline(__always)
    package static func secondOfTwo(_ l0: Float, _ l1: Float) -> Float {
        let m = max(l0, l1)
        let e0 = exp(l0 - m), e1 = exp(l1 - m)
        return e1 * inverse(e0 + e1)
    }
}
