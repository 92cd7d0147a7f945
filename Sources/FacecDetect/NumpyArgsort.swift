/// numpy's `np.argsort(a)` (default kind) of a float64 array, in the order
/// numpy 2.x gives on an x86-64 CPU with AVX2 and without AVX-512.
///
/// Why: mtcnn sorts its candidates with `np.argsort`, and its suppression
/// then keeps whichever of two tied, overlapping boxes comes first. numpy's
/// sort is not stable: on such a CPU it runs Intel's x86-simd-sort (AVX2,
/// 64-bit keys), a quicksort whose pieces of at most 256 elements are sorted
/// by bitonic networks of 4-lane registers. Ties come out in the order those
/// registers leave them, which no simple rule reproduces. This is that
/// algorithm, lane for lane, so facec keeps mtcnn's boxes where scores tie.
/// Checked against numpy on arrays full of ties (NumpyArgsortTests).
///
/// An AVX-512 CPU runs numpy's 8-lane variant, which orders ties otherwise;
/// facec follows the AVX2 order everywhere, so results do not depend on the
/// CPU. When the quicksort makes no progress (2·log2(n) levels, as when
/// the pivot is the smallest of many ties) x86-simd-sort hands the range to
/// `std::sort`, which is GNU libstdc++'s introsort here (`LibstdcxxSort`).
/// One corner is not numpy's: an array holding NaN, which numpy sends to
/// `std::sort` with NaN last, is sorted stably. Scores are never NaN.
package enum NumpyArgsort {
    /// Indices that sort `keys` ascending.
    package static func ascending(_ keys: [Double]) -> [Int] {
        var arg = Array(keys.indices)
        let n = keys.count
        guard n > 1 else { return arg }
        if keys.contains(where: \.isNaN) { return stableAscending(keys) }
        // x86-simd-sort returns at once when the array is already sorted.
        if !zip(keys, keys.dropFirst()).contains(where: { $1 < $0 }) { return arg }
        keys.withUnsafeBufferPointer { k in
            arg.withUnsafeMutableBufferPointer { a in
                let s = Sorter(keys: k, arg: a)
                // `2 * (size_t)log2(n)`: twice the floor of log2 n.
                s.quicksort(left: 0, right: n - 1, depth: 2 * (Int.bitWidth - 1 - n.leadingZeroBitCount))
            }
        }
        return arg
    }

    /// Indices that sort `keys` descending as mtcnn does: numpy's ascending
    /// order, reversed (`argsort(scores)[::-1]`).
    package static func descending(_ keys: [Double]) -> [Int] {
        ascending(keys).reversed()
    }

    private static func stableAscending(_ keys: [Double]) -> [Int] {
        keys.indices.sorted {
            let a = keys[$0], b = keys[$1]
            if a.isNaN || b.isNaN { return !a.isNaN && b.isNaN || (a.isNaN && b.isNaN && $0 < $1) }
            return a < b || (a == b && $0 < $1)
        }
    }
}

/// One AVX2 register of four float64 keys and the register of their four
/// indices, lane 0 first.
private typealias Keys = SIMD4<Double>
private typealias Args = SIMD4<Int>

/// `_mm256_min_pd` / `_mm256_max_pd`: the second operand unless the first
/// is strictly smaller (larger). Which of two equal keys survives decides
/// where an index goes.
private func vmin(_ a: Keys, _ b: Keys) -> Keys {
    Keys(a[0] < b[0] ? a[0] : b[0], a[1] < b[1] ? a[1] : b[1], a[2] < b[2] ? a[2] : b[2], a[3] < b[3] ? a[3] : b[3])
}

private func vmax(_ a: Keys, _ b: Keys) -> Keys {
    Keys(a[0] > b[0] ? a[0] : b[0], a[1] > b[1] ? a[1] : b[1], a[2] > b[2] ? a[2] : b[2], a[3] > b[3] ? a[3] : b[3])
}

/// `_mm256_permute4x64`: lane i of the result is lane p[i] of v.
private func permuted<V: SIMD>(_ v: V, _ p: SIMD4<Int>) -> V where V.Scalar: SIMDScalar {
    var r = v
    for i in 0..<4 { r[i] = v[p[i]] }
    return r
}

private let swapPairs = SIMD4<Int>(1, 0, 3, 2)
private let swapHalves = SIMD4<Int>(2, 3, 0, 1)
private let reversedLanes = SIMD4<Int>(3, 2, 1, 0)
/// Lanes that take the maximum in a compare-merge (masks 0xA and 0xC).
private let oddLanes = SIMD4<Int>(0, 1, 0, 1)
private let upperLanes = SIMD4<Int>(0, 0, 1, 1)

/// x86-simd-sort's `cmp_merge` with indices: lanes in `takeMax` get the
/// larger of the two keys, the others the smaller; a lane keeps its own
/// index when its key is unchanged, else takes the partner's.
private func compareMerge(_ k: inout Keys, _ a: inout Args, _ partner: SIMD4<Int>, takeMax: SIMD4<Int>) {
    let k2 = permuted(k, partner), a2 = permuted(a, partner)
    let lo = vmin(k2, k), hi = vmax(k2, k)
    var out = k
    for i in 0..<4 {
        out[i] = takeMax[i] != 0 ? hi[i] : lo[i]
        if out[i] != k[i] { a[i] = a2[i] }
    }
    k = out
}

/// `sort_reg_4lanes`: a bitonic network sorting one register.
private func sortRegister(_ k: inout Keys, _ a: inout Args) {
    compareMerge(&k, &a, swapPairs, takeMax: oddLanes)
    compareMerge(&k, &a, reversedLanes, takeMax: upperLanes)
    compareMerge(&k, &a, swapPairs, takeMax: oddLanes)
}

/// `bitonic_merge_reg_4lanes`: the half cleaners of one bitonic register.
private func mergeRegister(_ k: inout Keys, _ a: inout Args) {
    compareMerge(&k, &a, swapHalves, takeMax: upperLanes)
    compareMerge(&k, &a, swapPairs, takeMax: oddLanes)
}

/// `COEX` of registers x and y: lane-wise minimum into x, maximum into y;
/// indices follow, and stay put where the keys tie.
private func compareExchange(_ k: inout [Keys], _ a: inout [Args], _ x: Int, _ y: Int) {
    let lo = vmin(k[x], k[y]), hi = vmax(k[x], k[y])
    for i in 0..<4 where lo[i] != k[x][i] {
        let t = a[x][i]
        a[x][i] = a[y][i]
        a[y][i] = t
    }
    k[x] = lo
    k[y] = hi
}

private struct Sorter {
    let keys: UnsafeBufferPointer<Double>
    let arg: UnsafeMutableBufferPointer<Int>

    init(keys: UnsafeBufferPointer<Double>, arg: UnsafeMutableBufferPointer<Int>) {
        self.keys = keys
        self.arg = arg
    }

    /// `argsort_`: `left...right` inclusive.
    func quicksort(left: Int, right: Int, depth: Int) {
        if depth <= 0 {
            LibstdcxxSort(keys: keys, arg: arg).sort(left, right + 1)
            return
        }
        if right + 1 - left <= 256 {
            network(first: left, count: right + 1 - left)
            return
        }
        let pivot = self.pivot(left: left, right: right)
        var smallest = Double.infinity, biggest = -Double.infinity
        let split = partition(left: left, right: right + 1, pivot: pivot, smallest: &smallest, biggest: &biggest)
        if pivot != smallest { quicksort(left: left, right: split - 1, depth: depth - 1) }
        if pivot != biggest { quicksort(left: split, right: right, depth: depth - 1) }
    }

    /// `get_pivot_64bit`: the third smallest of four samples at quarters.
    func pivot(left: Int, right: Int) -> Double {
        guard right - left >= 4 else { return keys[arg[right]] }
        let size = (right - left) / 4
        return (1...4).map { keys[arg[left + $0 * size]] }.sorted()[2]
    }

    // MARK: bitonic networks (`argsort_n<…, 256>`)

    /// Sorts `count` ≤ 256 indices from `first` with the smallest power-of-two
    /// number of registers that holds them; missing lanes are +∞.
    func network(first: Int, count: Int) {
        var registers = 64
        while registers > 1 && count * 2 <= registers * 4 { registers /= 2 }
        var k = [Keys](repeating: Keys(repeating: .infinity), count: registers)
        var a = [Args](repeating: Args(repeating: Int.max), count: registers)
        for r in 0..<registers {
            for lane in 0..<4 where 4 * r + lane < count {
                a[r][lane] = arg[first + 4 * r + lane]
                k[r][lane] = keys[a[r][lane]]
            }
        }
        for r in 0..<registers { sortRegister(&k[r], &a[r]) }
        var group = 2
        while group <= registers {
            for g in stride(from: 0, to: registers, by: group) { merge(&k, &a, from: g, count: group) }
            group *= 2
        }
        for r in 0..<registers {
            for lane in 0..<4 where 4 * r + lane < count { arg[first + 4 * r + lane] = a[r][lane] }
        }
    }

    /// `bitonic_merge_n_vec`: merges the two sorted halves of `count`
    /// registers from `from`.
    func merge(_ k: inout [Keys], _ a: inout [Args], from: Int, count: Int) {
        for i in 0..<count / 2 {
            let j = from + count - 1 - i
            k[j] = permuted(k[j], reversedLanes)
            a[j] = permuted(a[j], reversedLanes)
            compareExchange(&k, &a, from + i, j)
            k[j] = permuted(k[j], reversedLanes)
            a[j] = permuted(a[j], reversedLanes)
        }
        var span = count / 2
        while span >= 2 {
            for j in stride(from: 0, to: count, by: span) {
                for i in 0..<span / 2 {
                    let x = from + j + i, y = x + span / 2
                    compareExchange(&k, &a, x, y)
                }
            }
            span /= 2
        }
        for r in from..<from + count { mergeRegister(&k[r], &a[r]) }
    }

    // MARK: partition (`argpartition_unrolled<…, 4>`)

    func load(_ at: Int) -> (Keys, Args) {
        let a = Args(arg[at], arg[at + 1], arg[at + 2], arg[at + 3])
        return (Keys(keys[a[0]], keys[a[1]], keys[a[2]], keys[a[3]]), a)
    }

    /// `partition_vec_avx2`: lanes below the pivot are written from
    /// `leftStore` up, in lane order; lanes at or above it end the register
    /// stored at `rightStore`, first lane last. Both stores write all four
    /// lanes, as the vector stores do. Returns how many were at or above.
    func store(_ v: (Keys, Args), pivot: Double, leftStore: Int, rightStore: Int, low: inout Double, high: inout Double) -> Int {
        var out = Args(), below = 0, above = 3
        for lane in 0..<4 {
            if v.0[lane] >= pivot {
                out[above] = v.1[lane]; above -= 1
            } else {
                out[below] = v.1[lane]; below += 1
            }
            low = min(low, v.0[lane])
            high = max(high, v.0[lane])
        }
        for i in 0..<4 { arg[leftStore + i] = out[i] }
        for i in 0..<4 { arg[rightStore + i] = out[i] }
        return 4 - below
    }

    /// `left..<right` around `pivot`; returns the first index of the upper
    /// part and the range's smallest and biggest keys. Only called on more
    /// than 256 elements, so always the unrolled form.
    func partition(left l: Int, right r: Int, pivot: Double, smallest: inout Double, biggest: inout Double) -> Int {
        let unroll = 4, width = 16
        var left = l, right = r
        // Shorten to a multiple of 16 one element at a time.
        for _ in 0..<(right - left) % width {
            let v = keys[arg[left]]
            smallest = min(smallest, v)
            biggest = max(biggest, v)
            if !(v < pivot) {
                right -= 1
                arg.swapAt(left, right)
            } else {
                left += 1
            }
        }
        if left == right { return left }
        var low = smallest, high = biggest
        let firstLeft = (0..<unroll).map { load(left + 4 * $0) }
        let firstRight = (0..<unroll).map { load(right - 4 * (unroll - $0)) }
        var rightStore = right - 4, leftStore = left
        left += width
        right -= width
        while right - left != 0 {
            let from: Int
            if (rightStore + 4) - right < left - leftStore {
                right -= width
                from = right
            } else {
                from = left
                left += width
            }
            let block = (0..<unroll).map { load(from + 4 * $0) }
            for v in block {
                let above = store(v, pivot: pivot, leftStore: leftStore, rightStore: rightStore, low: &low, high: &high)
                leftStore += 4 - above
                rightStore -= above
            }
        }
        for v in firstLeft + firstRight {
            let above = store(v, pivot: pivot, leftStore: leftStore, rightStore: rightStore, low: &low, high: &high)
            leftStore += 4 - above
            rightStore -= above
        }
        smallest = low
        biggest = high
        return leftStore
    }
}
