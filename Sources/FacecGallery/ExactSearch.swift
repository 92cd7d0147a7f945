import Dispatch
import FacecFormat
import FacecVerify

/// A gallery face found for a query: its row in the FaceMatrix and deepface's
/// distance (Double, rounded to 6 decimals as deepface rounds).
public struct Match: Sendable, Equatable {
    public let row: Int
    public let distance: Double
}

/// Exact search over every face of a gallery, on all cores. One pass of
/// float32 dot products (DotKernel) ranks or filters the rows with a margin
/// well above float32's rounding; the survivors' distances are then computed
/// exactly as deepface does (Distance, in Double), so the result is deepface's
/// to the last digit while the pass over a million faces stays memory-bound.
public enum ExactSearch {
    /// Rows per block: one block of a 4096-d gallery is 4 MB, of a 160-d one 160 KB.
    static let blockRows = 256
    /// Survivors kept beyond K when ranking (a margin for float32 ties).
    static let rankMargin = 16

    /// For each query: with a threshold, every face within it, nearest first
    /// (at most `top`); without one (deepface's similarity_search), the `top`
    /// nearest. Ties keep gallery order.
    public static func search(_ queries: [[Float]], in m: FaceMatrix, metric: Metric, threshold: Double?, top: Int?,
                              threads: Int) -> [[Match]] {
        precondition(threshold != nil || top != nil, "search needs a threshold or a count")
        precondition(queries.allSatisfy { $0.count == m.dim })
        let survivors = candidates(queries, in: m, metric: metric, threshold: threshold,
                                   keep: threshold == nil ? top! + rankMargin : nil, threads: threads)
        return queries.indices.map { q in
            var found = survivors[q].map { row -> Match in
                Match(row: row, distance: Distance.distance(queries[q], m.row(row), metric: metric))
            }
            if let t = threshold { found.removeAll { !($0.distance <= t) } }
            found.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.row < $1.row }
            if let top, found.count > top { found.removeLast(found.count - top) }
            return found
        }
    }

    /// The rows that may qualify, per query: float32 keys (monotone in the
    /// distance) filtered by the threshold with a margin, or the `keep` best.
    static func candidates(_ queries: [[Float]], in m: FaceMatrix, metric: Metric, threshold: Double?, keep: Int?,
                           threads: Int) -> [[Int]] {
        let n = m.count, d = m.dim, nq = queries.count, lanes = FaceMatrix.lanes
        guard n > 0, nq > 0 else { return Array(repeating: [], count: nq) }
        let flat = queries.flatMap { $0 }
        let qNorms = queries.map { q in q.reduce(Float(0)) { $0 + $1 * $1 } }
        let groups = m.groups, blockGroups = blockRows / lanes
        let workers = max(1, min(threads, (groups + blockGroups - 1) / blockGroups))
        let perWorker = (groups + workers - 1) / workers
        let results = Shared<[[[Selected]]]>(Array(repeating: [], count: workers))
        m.packed.withUnsafeBufferPointer { packed in
            m.squaredNorms.withUnsafeBufferPointer { norms in
                m.inverseNorms.withUnsafeBufferPointer { inverse in
                    flat.withUnsafeBufferPointer { qs in
                        let packed = packed.baseAddress!, qs = qs.baseAddress!
                        DispatchQueue.concurrentPerform(iterations: workers) { w in
                            let first = w * perWorker, end = min(groups, first + perWorker)
                            var selectors = (0..<nq).map { Selector(keep: keep, threshold: threshold, metric: metric, queryNorm: qNorms[$0]) }
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: nq * blockRows)
                            defer { scratch.deallocate() }
                            var g0 = first
                            while g0 < end {
                                let count = min(blockGroups, end - g0)
                                DotKernel.dots(queries: qs, queryCount: nq, groups: packed + g0 * lanes * d, groupCount: count, dim: d, out: scratch)
                                let r0 = g0 * lanes, rows = min(count * lanes, n - r0)
                                for q in 0..<nq {
                                    selectors[q].offer(dots: scratch + q * count * lanes, firstRow: r0, count: rows,
                                                       norms: norms.baseAddress! + r0, inverseNorms: inverse.baseAddress! + r0)
                                }
                                g0 += count
                            }
                            results.set(w, selectors.map { $0.finish() })
                        }
                    }
                }
            }
        }
        return (0..<nq).map { q in
            var all = results.value.flatMap { $0[q] }
            if let keep, all.count > keep {
                all.sort { $0.key != $1.key ? $0.key < $1.key : $0.row < $1.row }
                all.removeLast(all.count - keep)
            }
            return all.map { Int($0.row) }.sorted()
        }
    }

    /// The `top` nearest rows by the float32 pass alone (cosine), for the
    /// benchmark's comparison with Faiss, which also ranks in float32.
    public static func nearestRows(_ queries: [[Float]], in m: FaceMatrix, top: Int, threads: Int) -> [[Int]] {
        let keep = candidates(queries, in: m, metric: .cosine, threshold: nil, keep: top, threads: threads)
        return queries.indices.map { q in
            keep[q].map { r -> (Int, Double) in (r, Distance.distance(queries[q], m.row(r), metric: .cosine)) }
                .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.map(\.0)
        }
    }
}

struct Selected {
    let row: Int32
    let key: Float
}

/// One query's filter on one worker: computes the float32 key of each row of
/// a block (8 rows per vector) and keeps the rows that may be within the
/// threshold, or among the `keep` best.
struct Selector {
    let keep: Int?
    let metric: Metric
    let queryNorm: Float
    let queryInverseNorm: Float
    /// For a threshold: the largest key that may still be within it.
    let bound: Float
    var kept: [Selected] = []
    /// Ranking: rows with a key above this cannot be among the best.
    var cutoff = Float.infinity

    init(keep: Int?, threshold: Double?, metric: Metric, queryNorm: Float) {
        self.keep = keep; self.metric = metric; self.queryNorm = queryNorm
        queryInverseNorm = queryNorm > 0 ? 1 / queryNorm.squareRoot() : 0
        // float32 dot products of a few thousand terms are good to ~1e-6
        // relative; 1e-4 leaves a wide margin (survivors are recomputed).
        let t = Float(threshold ?? .infinity)
        switch metric {
        case .cosine: bound = t + 1e-4
        case .euclidean: bound = t * t * (1 + 1e-4) + 1e-4
        case .euclideanL2: bound = t * t + 1e-4
        }
    }

    /// cosine: 1 − cos; euclidean: squared distance (less a margin that
    /// grows with the norms); euclidean_l2: 2 − 2 cos. A zero row has cos 0.
    @inline(__always)
    func keys(_ dot: SIMD8<Float>, _ norm: SIMD8<Float>, _ inverse: SIMD8<Float>) -> SIMD8<Float> {
        switch metric {
        case .euclidean:
            let q = SIMD8<Float>(repeating: queryNorm)
            let k = q + norm - 2 * dot
            return keep == nil ? k - 1e-5 * (q + norm) : k
        case .cosine: return 1 - dot * inverse * queryInverseNorm
        case .euclideanL2: return 2 - 2 * dot * inverse * queryInverseNorm
        }
    }

    @inline(__always)
    mutating func offer(dots: UnsafePointer<Float>, firstRow: Int, count: Int,
                        norms: UnsafePointer<Float>, inverseNorms: UnsafePointer<Float>) {
        var i = 0
        while i < count {
            let n = min(8, count - i)
            var dot = SIMD8<Float>(), norm = SIMD8<Float>(), inverse = SIMD8<Float>()
            if n == 8 {
                dot = UnsafeRawPointer(dots + i).loadUnaligned(as: SIMD8<Float>.self)
                norm = UnsafeRawPointer(norms + i).loadUnaligned(as: SIMD8<Float>.self)
                inverse = UnsafeRawPointer(inverseNorms + i).loadUnaligned(as: SIMD8<Float>.self)
            } else {
                for l in 0..<n { dot[l] = dots[i + l]; norm[l] = norms[i + l]; inverse[l] = inverseNorms[i + l] }
            }
            let k = keys(dot, norm, inverse)
            let limit = SIMD8<Float>(repeating: keep == nil ? bound : cutoff)
            let pass = k .<= limit
            if any(pass) {
                for l in 0..<n where pass[l] { take(row: firstRow + i + l, key: k[l]) }
            }
            i += 8
        }
    }

    @inline(__always)
    private mutating func take(row: Int, key: Float) {
        guard let keep else { kept.append(Selected(row: Int32(row), key: key)); return }
        guard key <= cutoff else { return }
        kept.append(Selected(row: Int32(row), key: key))
        if kept.count >= 2 * keep + 64 { trim(to: keep) }
    }

    private mutating func trim(to keep: Int) {
        kept.sort { $0.key != $1.key ? $0.key < $1.key : $0.row < $1.row }
        kept.removeLast(kept.count - keep)
        cutoff = kept[keep - 1].key
    }

    func finish() -> [Selected] {
        var done = self
        if let keep, done.kept.count > keep { done.trim(to: keep) }
        return done.kept
    }
}

/// Per-worker results written from concurrentPerform's threads (each worker
/// its own index).
final class Shared<T>: @unchecked Sendable {
    private(set) var value: T
    private let lock = DispatchQueue(label: "facec.shared")
    init(_ value: T) { self.value = value }
    func set<E>(_ i: Int, _ element: E) where T == [E] { lock.sync { value[i] = element } }
}
