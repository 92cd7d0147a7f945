import FacecCore
@testable import FacecSearchKernels
import Testing
import FacecFormat
import FacecPipeline
@testable import FacecGallery

/// Search through the store API on both stores, with faces closer to each
/// other than float32's rounding: the database (pgvector, float32 sums) and
/// the embedded first pass (half rows) cannot order them, so only their
/// error bounds keep deepface's nearest among the candidates.
@Suite struct GallerySearchTests {
    static let model = GalleryModel(name: "DeepID", sourceSHA256: String(repeating: "ab", count: 32), output: "deepid", dim: 160,
                                    detector: "skip", weights: "f32", preprocessing: "test")

    @Test(arguments: GalleryBackend.available)
    func nearTiesRankAsDeepface(backend: GalleryBackend) throws {
        let dir = TempDir()
        let store = try Gallery.open(try backend.newGallery(in: dir), model: Self.model, create: true)
        var r = ExactSearchTests.Random(state: 11)
        let base = (0..<160).map { _ in 1 + r.next() }
        // 120 faces: the same vector with three values moved by one ulp.
        var rows: [[Float]] = []
        var photos: [PhotoRecord] = []
        for i in 0..<120 {
            var e = base
            for _ in 0..<3 {
                let k = Int(r.next() * 160) % 160
                e[k] = r.next() < 0.5 ? e[k].nextUp : e[k].nextDown
            }
            rows.append(e)
            photos.append(PhotoRecord(path: "p\(i).jpg", person: "x", sha256: String(i), size: 1, mtimeNs: 0,
                                      faces: [StoredFace(index: 0, area: .init(x: i, y: 0, width: 1, height: 1), confidence: 1, embedding: e)]))
        }
        try store.put(photos)
        let q = base.map { $0 + (r.next() - 0.5) * 0.5 }
        let searcher = try Gallery.searcher(for: store, mode: .exact, threads: 2)
        for metric in [Metric.cosine, .euclidean, .euclideanL2, .angular] {
            let expected = ExactSearchTests.bruteForce(q, rows, metric: metric, threshold: nil, top: 3)
            let got = try searcher.search([q], metric: metric, threshold: nil, top: 3)[0]
            #expect(got.map(\.path) == expected.map { "p\($0.row).jpg" }, "\(backend) \(metric)")
            #expect(got.map(\.distance) == expected.map(\.distance))
            // With a threshold right at those distances, every tied face, in gallery order.
            let t = expected[0].distance
            let within = ExactSearchTests.bruteForce(q, rows, metric: metric, threshold: t, top: nil)
            #expect(try searcher.search([q], metric: metric, threshold: t, top: nil)[0].map(\.path) == within.map { "p\($0.row).jpg" })
        }
    }
}
