import FacecCLI
import FacecCore
import FacecFormat
import FacecGallery
import FacecPipeline
import FacecSearchKernels
#if canImport(Glibc)
import Glibc
#endif

/// Times exact search over embeddings from .npy files, for
/// scripts/bench/gallery_search.py's side-by-side with Faiss and pgvector.
struct GalleryBenchCommand: Command {
    static let spec = CommandSpec(
        name: "gallery bench",
        abstract: "Time exact nearest-face search over a float32 .npy of embeddings [N, D] for queries [Q, D] (cosine ranking, as Faiss IndexFlatIP on normalised vectors).",
        discussion: "Prints one JSON line: n, dim, queries, threads, top, load_ms, single_ms_per_query (queries one at a time), batch_ms_per_query (all at once); the best of --repeat runs.",
        arguments: [.one("gallery", help: "Embeddings .npy [N, D] float32."), .one("queries", help: "Queries .npy [Q, D] float32.")],
        options: [
            .option(.top, help: "Neighbours per query (default 10)."),
            .option(.threads, help: "Threads (default: all cores)."),
            .option(.repeat, help: "Runs of each measurement; the fastest counts (default 3)."),
            .option(.ids, help: "Write the neighbours' row indices as int64 .npy [Q, top]."),
        ])

    let gallery, queries: String
    let top, threads, repeats: Int
    let ids: String?

    init(_ a: ParsedArguments) throws {
        gallery = a.argument("gallery"); queries = a.argument("queries")
        top = try a.int(.top) ?? 10
        threads = try a.threads() ?? systemCoreCount()
        repeats = try a.int(.repeat) ?? 3
        ids = a.string(.ids)
        guard top >= 1, threads >= 1, repeats >= 1 else { throw FacecError(.usage, "", "--top, --threads and --repeat must be at least 1") }
    }

    func run() throws {
        let idsOutput = try ids.map { try OutputFile.check($0, inputs: [gallery, queries]) }
        let start = monotonicSeconds()
        let g = try NPYFile.read(gallery, maxBytes: 1 << 34)
        let q = try NPYFile.read(queries)
        guard g.shape.count == 2, g.shape[0] > 0, g.shape[1] > 0 else { throw FacecError(.argument, gallery, "expected float32 [N, D], found shape \(g.shape)") }
        guard q.shape.count == 2, q.shape[1] == g.shape[1], q.shape[0] > 0 else {
            throw FacecError(.argument, queries, "expected float32 [Q, \(g.shape[1])], found shape \(q.shape)")
        }
        let d = g.shape[1]
        let matrix = FaceMatrix(dim: d, rows: g.values)
        let loadMs = (monotonicSeconds() - start) * 1e3
        let qs = (0..<q.shape[0]).map { Array(q.values[($0 * d)..<(($0 + 1) * d)]) }
        var single = Double.infinity, batch = Double.infinity
        var result: [[Int]] = []
        for _ in 0..<repeats {
            let t0 = monotonicSeconds()
            for x in qs { _ = ExactSearch.nearestRows([x], in: matrix, top: top, threads: threads) }
            single = min(single, (monotonicSeconds() - t0) * 1e3 / Double(qs.count))
            let t1 = monotonicSeconds()
            result = ExactSearch.nearestRows(qs, in: matrix, top: top, threads: threads)
            batch = min(batch, (monotonicSeconds() - t1) * 1e3 / Double(qs.count))
        }
        try idsOutput?.write(Self.int64NPY(result, width: top))
        print(JSONText.object([("n", "\(matrix.count)"), ("dim", "\(d)"), ("queries", "\(qs.count)"), ("threads", "\(threads)"),
                               ("top", "\(top)"), ("load_ms", JSONText.number(loadMs)),
                               ("single_ms_per_query", JSONText.number(single)), ("batch_ms_per_query", JSONText.number(batch))]))
    }

    /// int64 .npy [rows, width]; short rows (a gallery smaller than width) padded with -1, as Faiss pads.
    static func int64NPY(_ rows: [[Int]], width: Int) -> [UInt8] {
        var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (\(rows.count), \(width)), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        for r in rows {
            for k in 0..<width { withUnsafeBytes(of: Int64(k < r.count ? r[k] : -1).littleEndian) { out += $0 } }
        }
        return out
    }
}
