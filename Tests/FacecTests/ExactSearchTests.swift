import FacecCore
@testable import FacecSearchKernels
import Testing
import FacecFormat
import FacecPipeline
@testable import FacecGallery

/// Exact search against brute force: every row's distance computed as
/// deepface computes it (Distance, Double), filtered and sorted by hand.
@Suite struct ExactSearchTests {
    struct Random {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
    }

    /// Non-negative like ReLU outputs, clustered so that thresholds select a few.
    /// The search's packed matrix, and the same rows kept plainly for the brute force.
    static func gallery(rows: Int, dim: Int, seed: UInt64) -> (FaceMatrix, [[Float]]) {
        var r = Random(state: seed)
        let centres = (0..<8).map { _ in (0..<dim).map { _ in r.next() * 4 } }
        var m = FaceMatrix(dim: dim)
        var plain: [[Float]] = []
        for i in 0..<rows {
            m.beginPhoto(path: "p\(i)", person: "c\(i % 8)")
            let e = centres[i % 8].map { max(0, $0 + (r.next() - 0.5) * 0.6) }
            e.withUnsafeBufferPointer { m.append(area: .init(x: i, y: 0, width: 1, height: 1), embedding: $0) }
            plain.append(e)
        }
        return (m, plain)
    }

    static func bruteForce(_ q: [Float], _ rows: [[Float]], metric: Metric, threshold: Double?, top: Int?) -> [Match] {
        var all = rows.indices.map { Match(row: $0, distance: Distance.distance(q, rows[$0], metric: metric)) }
        if let t = threshold { all = all.filter { $0.distance <= t } }
        all.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.row < $1.row }
        if let top { all = Array(all.prefix(top)) }
        return all
    }

    @Test(arguments: [(160, Metric.cosine), (160, .euclidean), (160, .euclideanL2), (160, .angular), (13, .cosine), (13, .euclidean),
                      (13, .angular), (4096, .euclideanL2)])
    func matchesBruteForce(dim: Int, metric: Metric) {
        let (m, rows) = Self.gallery(rows: dim > 1000 ? 300 : 2003, dim: dim, seed: UInt64(dim))
        #expect((0..<m.count).allSatisfy { m.row($0) == rows[$0] })
        var r = Random(state: 99)
        // Queries: noisy copies of rows, one far away, and an exact duplicate of row 5.
        var queries = (0..<4).map { k in rows[k * 7].map { max(0, $0 + (r.next() - 0.5) * 0.2) } }
        queries.append((0..<dim).map { _ in r.next() * 10 })
        queries.append(rows[5])
        for q in queries {
            let distances = rows.map { Distance.distance(q, $0, metric: metric) }.sorted()
            // A threshold that keeps a few dozen rows, and one right on a stored distance.
            for t in [distances[min(40, distances.count - 1)], distances[3]] {
                for top in [nil, 5] as [Int?] {
                    let expected = Self.bruteForce(q, rows, metric: metric, threshold: t, top: top)
                    for threads in [1, 2] {
                        let got = ExactSearch.search([q], in: m, metric: metric, threshold: t, top: top, threads: threads)[0]
                        #expect(got == expected, "dim \(dim) \(metric) threshold \(t) top \(String(describing: top)) threads \(threads)")
                    }
                }
            }
            // deepface's similarity_search: the K nearest, no threshold.
            let nearest = ExactSearch.search([q], in: m, metric: metric, threshold: nil, top: 10, threads: 2)[0]
            #expect(nearest == Self.bruteForce(q, rows, metric: metric, threshold: nil, top: 10))
        }
        // Several queries at once give what each gives alone.
        let batch = ExactSearch.search(queries, in: m, metric: metric, threshold: nil, top: 7, threads: 2)
        for (k, q) in queries.enumerated() {
            #expect(batch[k] == ExactSearch.search([q], in: m, metric: metric, threshold: nil, top: 7, threads: 1)[0])
        }
    }

    /// Rows that differ from each other by less than half precision's step:
    /// the first pass (half rows) cannot tell them apart, so only its error
    /// bound keeps the true nearest among the survivors.
    @Test(arguments: [Metric.cosine, .euclidean, .euclideanL2, .angular])
    func nearTiesBelowHalfPrecision(metric: Metric) {
        var r = Random(state: 7)
        let dim = 160
        let base = (0..<dim).map { _ in 1 + r.next() }
        var m = FaceMatrix(dim: dim)
        var rows: [[Float]] = []
        for i in 0..<1000 {
            // Steps of ~1e-5 on values near 1.5, where half's spacing is ~1e-3.
            let e = base.map { $0 + (r.next() - 0.5) * 2e-5 }
            m.beginPhoto(path: "p\(i)", person: "x")
            e.withUnsafeBufferPointer { m.append(area: .init(x: i, y: 0, width: 1, height: 1), embedding: $0) }
            rows.append(e)
        }
        #expect(m.halfUsable)
        let q = base.map { $0 + (r.next() - 0.5) * 1e-4 }
        for top in [1, 10] {
            let got = ExactSearch.search([q], in: m, metric: metric, threshold: nil, top: top, threads: 2)[0]
            #expect(got == Self.bruteForce(q, rows, metric: metric, threshold: nil, top: top), "\(metric) top \(top)")
        }
        let t = Self.bruteForce(q, rows, metric: metric, threshold: nil, top: 30).last!.distance
        let within = ExactSearch.search([q], in: m, metric: metric, threshold: t, top: nil, threads: 1)[0]
        #expect(within == Self.bruteForce(q, rows, metric: metric, threshold: t, top: nil))
    }

    /// Each row's recorded half error bounds its true distance from the half copy.
    @Test func halfErrorsBoundTheRounding() {
        let (m, rows) = Self.gallery(rows: 203, dim: 13, seed: 3)
        #expect(m.halfUsable && m.halfErrors.count == m.count)
        for (i, row) in rows.enumerated() {
            let base = (i / FaceMatrix.lanes) * FaceMatrix.lanes * m.dim, lane = i % FaceMatrix.lanes
            let err = (0..<m.dim).reduce(0.0) { s, k in
                let d = Double(row[k]) - Double(Float(m.halfPacked[base + k * FaceMatrix.lanes + lane]))
                return s + d * d
            }.squareRoot()
            #expect(err <= Double(m.halfErrors[i]) && m.halfErrors[i] <= Float(err) * 1.001 + 1e-30)
        }
    }

    /// A value beyond half's range (65504) turns the half copy off; the search reads float32.
    @Test func valuesBeyondHalfRangeSearchInFloat32() {
        var (m, rows) = Self.gallery(rows: 300, dim: 16, seed: 5)
        let big = (0..<16).map { Float($0) * 1e5 }
        m.beginPhoto(path: "big", person: "big")
        big.withUnsafeBufferPointer { m.append(area: .init(x: 0, y: 0, width: 1, height: 1), embedding: $0) }
        rows.append(big)
        #expect(!m.halfUsable && m.halfPacked.isEmpty)
        for metric in [Metric.cosine, .euclidean, .euclideanL2] {
            let q = rows[17].map { $0 + 0.01 }
            #expect(ExactSearch.search([q], in: m, metric: metric, threshold: nil, top: 5, threads: 2)[0]
                == Self.bruteForce(q, rows, metric: metric, threshold: nil, top: 5))
        }
    }

    @Test func emptyGalleryFindsNothing() {
        let m = FaceMatrix(dim: 8)
        #expect(ExactSearch.search([[Float](repeating: 1, count: 8)], in: m, metric: .cosine, threshold: 0.5, top: nil, threads: 2) == [[]])
    }

    @Test func zeroEmbeddingIsFarFromEverything() {
        var m = FaceMatrix(dim: 8)
        m.beginPhoto(path: "zero", person: "z")
        [Float](repeating: 0, count: 8).withUnsafeBufferPointer { m.append(area: .init(x: 0, y: 0, width: 1, height: 1), embedding: $0) }
        let got = ExactSearch.search([[Float](repeating: 1, count: 8)], in: m, metric: .cosine, threshold: 0.9, top: nil, threads: 1)
        #expect(got == [[]])
    }
}
