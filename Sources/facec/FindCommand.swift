import FacecCLI
import FacecCore
import FacecFormat
import FacecGallery
import FacecRuntime
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

struct FindCommand: Command {
    static let spec = CommandSpec(
        name: "find",
        abstract: "Recognise the faces of photos against a gallery (deepface's find): for each face, the gallery faces within the threshold, nearest first.",
        discussion: """
            One JSON line per match, with deepface's find columns: input, face_index, identity (the gallery photo), person, \
            target_x/y/w/h (its face), source_x/y/w/h (the photo's face), threshold, distance, confidence (deepface's, 0-100). Within a face, nearest first; \
            a face with no match prints nothing. The gallery must have been built with the same model.
            """,
        arguments: [.one("model", help: "The .fgraph model the gallery was built with."), .many("photos", help: "Photos to recognise.")],
        options: FaceOptions.options + [
            .option(.gallery, help: "Gallery file or postgresql:// URL (required)."),
            .option(.metric, help: "cosine (the default), euclidean, euclidean_l2 or angular."),
            .option(.threshold, help: "Distance threshold (default: the model's for the metric, as deepface's)."),
            .option(.top, help: "At most K matches per face (deepface's k)."),
            .flag(.similarity, help: "The K nearest whatever their distance (deepface's similarity_search); needs --top."),
            .option(.search, help: "exact (the default: every face) or hnsw (PostgreSQL's approximate index, see 'gallery index')."),
            .option(.efSearch, help: "With --search hnsw: pgvector's search beam, 1...1000 (default max(100, 2 × rows asked for)); wider recalls more."),
            .option(.threads, help: "Threads (default: all cores)."),
        ])

    let model: String
    let photos: [String]
    let faces: FaceOptions
    let gallery: String
    let metric: Metric?
    let threshold: Double?
    let top: Int?
    let similarity: Bool
    let search: SearchMode
    let efSearch: Int?
    let threads: Int

    init(_ a: ParsedArguments) throws {
        model = a.argument("model"); photos = a.arguments("photos")
        faces = try FaceOptions(a)
        guard let g = a.string(.gallery) else { throw FacecError(.usage, "", "--gallery is required") }
        gallery = g
        metric = try a.choice(.metric, Metric.self)
        threshold = try a.double(.threshold)
        top = try a.int(.top)
        similarity = a.flag(.similarity)
        search = try a.choice(.search, SearchMode.self) ?? .exact
        efSearch = try a.int(.efSearch)
        if let e = efSearch {
            guard search == .hnsw else { throw FacecError(.usage, "", "--ef-search applies to --search hnsw only") }
            if let problem = HNSWParameters(efSearch: e).validate() { throw FacecError(.usage, "", problem) }
        }
        threads = try a.threads() ?? systemCoreCount()
        if let top, top < 1 { throw FacecError(.usage, "", "--top must be at least 1") }
        if similarity && top == nil { throw FacecError(.usage, "", "--similarity needs --top K") }
    }

    func run() throws {
        let split = threadSplit(threads: threads, photos: photos.count)
        let context = try GalleryModelContext(modelPath: model, faces: faces, threadsPerPhoto: split.perPhoto)
        let header = context.model.header
        let metric = self.metric ?? header.defaultMetric
        let t = try Thresholds.resolve(header, metric: metric, override: threshold, modelPath: model)
        let deepface = DeepfaceModels.entry(for: header)
        let store = try Gallery.open(gallery, model: context.galleryModel, create: false)
        let searcher = try Gallery.searcher(for: store, mode: search, threads: threads, efSearch: efSearch)
        let embedder = Embedder(model: context.model)
        var failures = 0
        try embedder.embedFacesInOrder(photos, mode: context.mode, threads: split.photoWorkers) { i, outcome in
            switch outcome {
            case .failure(let error):
                failures += 1
                report(String(describing: error))
            case .success(let list):
                let results = try searcher.search(list.map(\.embedding), metric: metric, threshold: similarity ? nil : t, top: top)
                for (face, matches) in zip(list, results) {
                    for m in matches { print(Self.json(input: photos[i], face: face, match: m, threshold: t, metric: metric, model: deepface)) }
                }
                flushStandardOutput()
            }
        }
        if failures > 0 { throw ExitStatus(1) }
    }

    static func json(input: String, face: FaceEmbedding, match m: FoundFace, threshold: Double, metric: Metric,
                     model: DeepfaceModels.Entry?) -> String {
        JSONText.object([
            ("input", JSONText.string(input)), ("face_index", "\(face.index)"),
            ("identity", JSONText.string(m.path)), ("person", JSONText.string(m.person)),
            ("target_x", "\(m.area.x)"), ("target_y", "\(m.area.y)"), ("target_w", "\(m.area.width)"), ("target_h", "\(m.area.height)"),
            ("source_x", "\(face.area.x)"), ("source_y", "\(face.area.y)"), ("source_w", "\(face.area.width)"), ("source_h", "\(face.area.height)"),
            ("threshold", JSONText.number(threshold)), ("distance", JSONText.number(m.distance)),
            ("confidence", JSONText.confidence(DeepfaceModels.confidence(distance: m.distance, verified: m.distance <= threshold,
                                                                         metric: metric, entry: model))),
        ])
    }
}
