import Dispatch
import FacecCore
import FacecFormat
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

/// A gallery face found for a query: its row in the FaceMatrix and deepface's
/// distance (Double, rounded to 6 decimals as deepface rounds).
public struct Match: Sendable, Equatable {
    public let row: Int
    public let distance: Double
}

/// Exact search over every face of a gallery, on all cores. A first pass of
/// float32 dot products (DotKernel) over the rows in half precision (or
/// float32 when a value does not fit) bounds each row's key from below and
/// above: the half rounding error of the row (‖x − half(x)‖, recorded per row
/// by FaceMatrix, enters through Cauchy–Schwarz) plus a margin well above
/// float32's rounding. Only rows whose bounds leave them in the running are
/// kept, and their distances are then computed exactly as deepface does
/// (Distance, in Double), so the result is deepface's to the last digit while
/// the pass over a million faces reads half the bytes of float32.
public enum ExactSearch {
    /// Rows per block: one block of a 4096-d gallery is 2–4 MB, of a 160-d one 80–160 KB.
    static let blockRows = 256
    /// Extra rows PostgreSQL's index scans fetch beyond K (their ranking is float32, not deepface's).
    package static let rankMargin = 16

    /// For each query: with a threshold, every face within it, nearest first
    /// (at most `top`); without one (deepface's similarity_search), the `top`
    /// nearest. Ties keep gallery order.
    public static func search(_ queries: [[Float]], in m: FaceMatrix, metric: Metric, threshold: Double?, top: Int?,
                              threads: Int) -> [[Match]] {
        precondition(threshold != nil || top != nil, "search needs a threshold or a count")
        precondition(queries.allSatisfy { $0.count == m.dim })
        // Angular distance is a monotone function of the cosine one: the
        // first pass ranks and bounds by cosine, within the matching threshold.
        let survivors = metric == .angular
            ? candidates(queries, in: m, metric: .cosine, threshold: threshold.map(cosineDistance(ofAngular:)),
                         keep: threshold == nil ? top! : nil, threads: threads)
            : candidates(queries, in: m, metric: metric, threshold: threshold,
                         keep: threshold == nil ? top! : nil, threads: threads)
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

    /// The cosine distance (1 − cos) at angular distance `t` (arccos(cos) / π),
    /// taken at t + 1e-6 so that a distance deepface rounds down to t is
    /// still inside; 2 (everything) from 1 on.
    package static func cosineDistance(ofAngular t: Double) -> Double {
        let u = t + 1e-6
        return u >= 1 ? 2 : 1 - cos(Double.pi * u)
    }

    /// The rows that may qualify, per query, in gallery order: with a
    /// threshold, every row whose lower bound is within it; with `keep`,
    /// every row whose lower bound is at most the keep-th smallest upper bound
    /// (a superset of the true `keep` nearest, ties included).
    static func candidates(_ queries: [[Float]], in m: FaceMatrix, metric: Metric, threshold: Double?, keep: Int?,
                           threads: Int) -> [[Int]] {
        let n = m.count, nq = queries.count
        guard n > 0, nq > 0 else { return Array(repeating: [], count: nq) }
        let perWorker: [[[Selected]]]
        // Half rows for few queries (memory-bound: half the bytes); float32
        // rows for a batch, which is bound by arithmetic, not memory, and
        // would only pay for the widening.
        if m.halfUsable && nq < 4 {
            perWorker = m.halfPacked.withUnsafeBufferPointer { packed in
                m.halfErrors.withUnsafeBufferPointer { errors in
                    scan(queries, packed.baseAddress!, errors: errors.baseAddress, in: m, metric: metric,
                         threshold: threshold, keep: keep, threads: threads)
                }
            }
        } else {
            perWorker = m.packed.withUnsafeBufferPointer { packed in
                scan(queries, packed.baseAddress!, errors: nil, in: m, metric: metric, threshold: threshold, keep: keep, threads: threads)
            }
        }
        return (0..<nq).map { q in
            var all = perWorker.flatMap { $0[q] }
            if let keep { all = Selector.narrow(all, keep: keep) }
            return all.map { Int($0.row) }.sorted()
        }
    }

    /// The first pass over rows of element type E, split by row blocks across workers.
    private static func scan<E: PackedValue>(_ queries: [[Float]], _ packed: UnsafePointer<E>, errors: UnsafePointer<Float>?,
                                             in m: FaceMatrix, metric: Metric, threshold: Double?, keep: Int?,
                                             threads: Int) -> [[[Selected]]] {
        let n = m.count, d = m.dim, nq = queries.count, lanes = FaceMatrix.lanes
        let flat = queries.flatMap { $0 }
        let qNorms = queries.map { q in q.reduce(Float(0)) { $0 + $1 * $1 } }
        let groups = m.groups, blockGroups = blockRows / lanes
        // A worker per ~4M multiply-adds at least: below that, waking a thread costs more than it saves.
        let work = n * d * nq
        let workers = max(1, min(threads, (groups + blockGroups - 1) / blockGroups, work / (4 << 20)))
        let perWorker = (groups + workers - 1) / workers
        let results = Shared<[[[Selected]]]>(Array(repeating: [], count: workers))
        m.squaredNorms.withUnsafeBufferPointer { norms in
            m.inverseNorms.withUnsafeBufferPointer { inverse in
                flat.withUnsafeBufferPointer { qs in
                    let qs = qs.baseAddress!
                    let body = { (w: Int) in
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
                                                   norms: norms.baseAddress! + r0, inverseNorms: inverse.baseAddress! + r0,
                                                   errors: errors.map { $0 + r0 })
                            }
                            g0 += count
                        }
                        results.set(w, selectors.map { $0.finish() })
                    }
                    Threads.parallelFor(iterations: workers, threads: workers, body)
                }
            }
        }
        return results.value
    }

    /// The `top` nearest rows (cosine, exact), for the benchmark's comparison
    /// with Faiss's IndexFlatIP.
    public static func nearestRows(_ queries: [[Float]], in m: FaceMatrix, top: Int, threads: Int) -> [[Int]] {
        search(queries, in: m, metric: .cosine, threshold: nil, top: top, threads: threads).map { $0.map(\.row) }
    }
}

/// A row that may qualify, with bounds on its key (the true key lies in [lower, upper]).
struct Selected {
    let row: Int32
    let lower: Float
    let upper: Float
}

/// One query's filter on one worker: bounds the key of each row of a block
/// (8 rows per vector) and keeps the rows that may be within the threshold,
/// or among the `keep` best.
struct Selector {
    let keep: Int?
    let metric: Metric
    /// ‖q‖², ‖q‖ and 1/‖q‖.
    let queryNorm: Float
    let queryLength: Float
    let queryInverseNorm: Float
    /// The threshold in key units (distance, or squared distance for the euclidean metrics).
    let limit: Float
    var kept: [Selected] = []
    /// Ranking: the keep-th smallest upper bound so far; a row whose lower bound exceeds it cannot be among the best.
    var cutoff = Float.infinity
    private var nextTrim: Int

    init(keep: Int?, threshold: Double?, metric: Metric, queryNorm: Float) {
        self.keep = keep; self.metric = metric; self.queryNorm = queryNorm
        queryLength = queryNorm.squareRoot()
        queryInverseNorm = queryNorm > 0 ? 1 / queryLength : 0
        let t = Float(threshold ?? .infinity)
        limit = metric == .cosine ? t : t * t
        nextTrim = 2 * (keep ?? 0) + 64
    }

    /// cosine: 1 − cos; euclidean: squared distance; euclidean_l2: 2 − 2 cos
    /// (the squared distance of the normalised vectors). A zero row has cos 0.
    @inline(__always)
    func keys(_ dot: SIMD8<Float>, _ norm: SIMD8<Float>, _ inverse: SIMD8<Float>) -> SIMD8<Float> {
        switch metric {
        case .euclidean: return SIMD8<Float>(repeating: queryNorm) + norm - 2 * dot
        case .cosine, .angular: return 1 - dot * inverse * queryInverseNorm
        case .euclideanL2: return 2 - 2 * dot * inverse * queryInverseNorm
        }
    }

    /// How far the computed key may be from the true one. |q·x − q·h| ≤
    /// ‖q‖‖x − h‖ (Cauchy–Schwarz) for the half row h, scaled as the key
    /// scales the dot product; plus float32's rounding of a few thousand terms
    /// (~1e-6 relative) with a wide margin, which also covers deepface's
    /// rounding of distances to 6 decimals.
    @inline(__always)
    func slack(_ norm: SIMD8<Float>, _ inverse: SIMD8<Float>, _ error: SIMD8<Float>) -> SIMD8<Float> {
        switch metric {
        case .cosine, .angular: return error * inverse + 1e-4
        case .euclideanL2: return 2 * error * inverse + 2e-4
        case .euclidean:
            let q = SIMD8<Float>(repeating: queryNorm), ql = SIMD8<Float>(repeating: queryLength)
            // In steps: one SIMD expression with literals is too much for Swift 6.0's type checker.
            let bound: SIMD8<Float> = 2 * ql * error
            let rounding: SIMD8<Float> = 1e-5 * (q + norm)
            let scaled: SIMD8<Float> = 4e-6 * (ql + norm * inverse)
            return bound + rounding + scaled
        }
    }

    @inline(__always)
    mutating func offer(dots: UnsafePointer<Float>, firstRow: Int, count: Int,
                        norms: UnsafePointer<Float>, inverseNorms: UnsafePointer<Float>, errors: UnsafePointer<Float>?) {
        var i = 0
        while i < count {
            let n = min(8, count - i)
            var dot = SIMD8<Float>(), norm = SIMD8<Float>(), inverse = SIMD8<Float>(), error = SIMD8<Float>()
            if n == 8 {
                dot = UnsafeRawPointer(dots + i).loadUnaligned(as: SIMD8<Float>.self)
                norm = UnsafeRawPointer(norms + i).loadUnaligned(as: SIMD8<Float>.self)
                inverse = UnsafeRawPointer(inverseNorms + i).loadUnaligned(as: SIMD8<Float>.self)
                if let errors { error = UnsafeRawPointer(errors + i).loadUnaligned(as: SIMD8<Float>.self) }
            } else {
                for l in 0..<n {
                    dot[l] = dots[i + l]; norm[l] = norms[i + l]; inverse[l] = inverseNorms[i + l]
                    if let errors { error[l] = errors[i + l] }
                }
            }
            let k = keys(dot, norm, inverse), s = slack(norm, inverse, error)
            let lower = k - s
            let pass = lower .<= SIMD8<Float>(repeating: keep == nil ? limit : cutoff)
            if any(pass) {
                let upper = k + s
                for l in 0..<n where pass[l] { kept.append(Selected(row: Int32(firstRow + i + l), lower: lower[l], upper: upper[l])) }
                if let keep, kept.count >= nextTrim { trim(to: keep) }
            }
            i += 8
        }
    }

    /// Drops the rows that can no longer be among the `keep` best.
    private mutating func trim(to keep: Int) {
        kept = Self.narrow(kept, keep: keep)
        if kept.count >= keep { cutoff = min(cutoff, Self.upperCutoff(kept, keep: keep)) }
        nextTrim = max(2 * keep + 64, 2 * kept.count)
    }

    /// The keep-th smallest upper bound: at least `keep` rows have a key at
    /// most this, so no row whose lower bound exceeds it is among the `keep` nearest.
    static func upperCutoff(_ rows: [Selected], keep: Int) -> Float {
        guard keep <= 64 else {
            var uppers = rows.map(\.upper)
            uppers.sort()
            return uppers[keep - 1]
        }
        // A few (--top): insertion into a short sorted buffer, no sort of every row.
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: keep) { best in
            best.initialize(repeating: .infinity)
            for r in rows where r.upper < best[keep - 1] {
                var i = keep - 1
                while i > 0 && best[i - 1] > r.upper { best[i] = best[i - 1]; i -= 1 }
                best[i] = r.upper
            }
            return best[keep - 1]
        }
    }

    /// The rows of `rows` that may be among the `keep` nearest.
    static func narrow(_ rows: [Selected], keep: Int) -> [Selected] {
        guard rows.count > keep else { return rows }
        let cutoff = upperCutoff(rows, keep: keep)
        return rows.filter { $0.lower <= cutoff }
    }

    func finish() -> [Selected] {
        guard let keep else { return kept }
        return Self.narrow(kept, keep: keep)
    }
}

/// Per-worker results written from the search's threads (each worker
/// its own index).
final class Shared<T>: @unchecked Sendable {
    private(set) var value: T
    private let lock = DispatchQueue(label: "facec.shared")
    init(_ value: T) { self.value = value }
    func set<E>(_ i: Int, _ element: E) where T == [E] { lock.sync { value[i] = element } }
}
