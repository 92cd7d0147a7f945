/// The variance normalisation and the stages of a cascade for eight windows
/// of one row at a time, in exactly the scalar arithmetic (the same float
/// products and sums in the same order, double stage sums, no fused
/// multiply-adds), so every window gets the verdict it would get alone.
/// Once fewer than two of the eight windows are still alive, they are left
/// to the per-window evaluation (`CascadeDetector.evaluate`).
///
/// Each window gets a code: -1 rejected for too little contrast; 2s failed
/// stage s; 2s + 1 alive at stage s (continue per window from there; s =
/// stages: passed every stage, with the last stage's sum in `sums`); and
/// its variance factor.
struct StageVectors {
    let stages: Int
    private let counts: [Int]
    private let thresholds: [Double]
    /// Per stump: 12 integral offsets (4 corners × 3 rectangles) for this stride.
    private let offsets: [Int]
    private let w0: [Float], w1: [Float], w2: [Float]
    private let threshold: [Float], left: [Float], right: [Float]
    private let norm: (Int, Int, Int, Int)
    private let area: Double

    init(_ d: CascadeDetector, stride: Int) {
        stages = d.stageCount.count
        counts = (0..<stages).map { Int(d.stageCount[$0]) }
        thresholds = (0..<stages).map { Double(d.stageThreshold[$0]) }
        let n = counts.reduce(0, +)
        var o: [Int] = [], a: [Float] = [], b: [Float] = [], c: [Float] = []
        for k in 0..<n {
            let f = Int(d.stumpFeature[k])
            for j in 0..<3 {
                let r = d.rects[3 * f + j]
                o += [r.x + stride * r.y, r.x + r.width + stride * r.y,
                      r.x + stride * (r.y + r.height), r.x + r.width + stride * (r.y + r.height)]
            }
            a.append(d.rects[3 * f].weight); b.append(d.rects[3 * f + 1].weight); c.append(d.rects[3 * f + 2].weight)
        }
        offsets = o; w0 = a; w1 = b; w2 = c
        threshold = Array(d.stumpThreshold[0..<n]); left = Array(d.stumpLeft[0..<n]); right = Array(d.stumpRight[0..<n])
        let W = d.cascade.windowWidth, H = d.cascade.windowHeight
        norm = (1 + stride, 1 + (W - 2) + stride, 1 + stride * (1 + H - 2), 1 + (W - 2) + stride * (1 + H - 2))
        area = Double((W - 2) * (H - 2))
    }

    /// Integral values at `offset` for the eight windows from `p` (every
    /// pixel, or every second one: the even lanes of sixteen).
    @inline(__always)
    private static func lanes(_ p: UnsafePointer<Int32>, _ offset: Int, everySecond: Bool) -> SIMD8<Int32> {
        let raw = UnsafeRawPointer(p + offset)
        if everySecond { return raw.loadUnaligned(as: SIMD16<Int32>.self).evenHalf }
        return raw.loadUnaligned(as: SIMD8<Int32>.self)
    }

    @inline(__always)
    private static func box(_ p: UnsafePointer<Int32>, _ o: UnsafePointer<Int>, everySecond: Bool) -> SIMD8<Float> {
        let v = lanes(p, o[0], everySecond: everySecond) &- lanes(p, o[1], everySecond: everySecond)
            &- lanes(p, o[2], everySecond: everySecond) &+ lanes(p, o[3], everySecond: everySecond)
        return SIMD8<Float>(v)
    }

    /// Codes and variance factors for `count` windows starting at the row's
    /// `sum`/`sq` integral pointers (window k at k·step). Reads up to 8·step
    /// + 16 values past the last window's corners: the buffers are padded.
    /// Returns the stumps evaluated (each counted for eight windows).
    func classify(sum: UnsafePointer<Int32>, sq: UnsafePointer<Int32>, count: Int, step: Int,
                  codes: UnsafeMutablePointer<Int16>, factors: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Double>) -> Int {
        if step == 2 { return run(sum, sq, count, everySecond: true, codes, factors, sums) }
        return run(sum, sq, count, everySecond: false, codes, factors, sums)
    }

    @inline(__always)
    private func run(_ sum: UnsafePointer<Int32>, _ sq: UnsafePointer<Int32>, _ count: Int, everySecond: Bool,
                     _ codes: UnsafeMutablePointer<Int16>, _ factors: UnsafeMutablePointer<Float>, _ sums: UnsafeMutablePointer<Double>) -> Int {
        let step = everySecond ? 2 : 1
        var work = 0
        offsets.withUnsafeBufferPointer { ofs in
        w0.withUnsafeBufferPointer { w0 in w1.withUnsafeBufferPointer { w1 in w2.withUnsafeBufferPointer { w2 in
        threshold.withUnsafeBufferPointer { th in left.withUnsafeBufferPointer { lf in right.withUnsafeBufferPointer { rt in
            let area = SIMD8<Double>(repeating: self.area)
            var g = 0
            while g < count {
                let p = sum + g * step, q = sq + g * step
                let valsum = Self.lanes(p, norm.0, everySecond: everySecond) &- Self.lanes(p, norm.1, everySecond: everySecond)
                    &- Self.lanes(p, norm.2, everySecond: everySecond) &+ Self.lanes(p, norm.3, everySecond: everySecond)
                let valsq = Self.lanes(q, norm.0, everySecond: everySecond) &- Self.lanes(q, norm.1, everySecond: everySecond)
                    &- Self.lanes(q, norm.2, everySecond: everySecond) &+ Self.lanes(q, norm.3, everySecond: everySecond)
                let s = SIMD8<Double>(valsum)
                let sqd = SIMD8<Double>(SIMD8<UInt32>(truncatingIfNeeded: valsq))
                let nf = area * sqd - s * s
                let vnf = SIMD8<Float>(SIMD8<Double>(repeating: 1) / nf.squareRoot())
                var alive = (nf .> 0) .& (area * SIMD8<Double>(vnf) .< 0.1)
                var code = SIMD8<Int64>(repeating: -1)
                var tmp = SIMD8<Double>(repeating: 0)
                if any(alive) {
                    var k = 0
                    var st = 0
                    while true {
                        tmp = SIMD8<Double>(repeating: 0)
                        work += 8 * counts[st]
                        for _ in 0..<counts[st] {
                            let o = ofs.baseAddress! + 12 * k
                            var ret = w0[k] * Self.box(p, o, everySecond: everySecond) + w1[k] * Self.box(p, o + 4, everySecond: everySecond)
                            if w2[k] != 0 { ret += w2[k] * Self.box(p, o + 8, everySecond: everySecond) }
                            let value = ret * vnf
                            let leaf = SIMD8<Float>(repeating: rt[k]).replacing(with: lf[k], where: value .< th[k])
                            tmp += SIMD8<Double>(leaf)
                            k += 1
                        }
                        let failed = alive .& (tmp .< thresholds[st])
                        code.replace(with: Int64(2 * st), where: failed)
                        alive = alive .& .!failed
                        st += 1
                        let left = SIMD8<Int64>(repeating: 0).replacing(with: 1, where: alive).wrappedSum()
                        if st == stages || left < 2 {
                            code.replace(with: Int64(2 * st + 1), where: alive)
                            break
                        }
                    }
                }
                for j in 0..<8 {
                    codes[g + j] = Int16(truncatingIfNeeded: code[j])
                    factors[g + j] = vnf[j]
                    sums[g + j] = tmp[j]
                }
                g += 8
            }
        } } }
        } } }
        }
        return work
    }
}
