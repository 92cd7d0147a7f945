import FacecCore
import FacecFormat
import FacecRuntime
import FacecPipeline

struct VerifyCommand: Command {
    static let spec = CommandSpec(
        name: "verify",
        abstract: "Decide whether two photos show the same person (or every pair of a CSV list).",
        discussion: "As deepface's verify: every face of each photo is embedded and the closest pair of faces decides; distances and thresholds follow deepface (cosine, euclidean, euclidean_l2, angular; verified = distance <= threshold) and so does the confidence (0-100).",
        arguments: [.one("model", help: "The .fgraph model."), .many("images", required: false, help: "Two photos (omit with --pairs).")],
        options: [
            .option(.metric, help: "cosine | euclidean | euclidean_l2 | angular (default: the model's)."),
            .option(.threshold, help: "Override the model's threshold for the metric."),
            .option(.pairs, help: "A CSV of pairs: file_x,file_y[,Decision] (deepface's master.csv format)."),
            .option(.root, help: "Directory the pair file names are relative to (default: the CSV's directory)."),
            .option(.output, short: "o", help: "With --pairs: write the result CSV here (default: stdout)."),
            .option(.threads, help: "Threads (default: all cores): with --pairs, photos in parallel; else each photo's face search."),
        ] + FaceOptions.options)

    let model: String
    let images: [String]
    let metric: Metric?
    let threshold: Double?
    let pairs, root, output: String?
    let threads: Int?
    let faces: FaceOptions

    init(_ a: ParsedArguments) throws {
        model = a.argument("model")
        images = a.arguments("images")
        metric = try a.choice(.metric, Metric.self)
        threshold = try a.double(.threshold)
        pairs = a.string(.pairs)
        root = a.string(.root)
        output = a.string(.output)
        threads = try a.threads()
        faces = try FaceOptions(a)
        if pairs == nil {
            guard images.count == 2 else { throw FacecError(.usage, "", "give two images, or --pairs PAIRS.csv") }
            guard root == nil, output == nil else { throw FacecError(.usage, "", "--root and -o go with --pairs") }
        } else {
            guard images.isEmpty else { throw FacecError(.usage, "", "give either two images or --pairs, not both") }
        }
    }

    func run() throws {
        let start = monotonicSeconds()
        let loaded = try Model(path: model)
        let m = metric ?? loaded.header.defaultMetric
        let limit = try Thresholds.resolve(loaded.header, metric: m, override: threshold, modelPath: model)
        let embedder = Embedder(model: loaded)
        let cores = threads ?? systemCoreCount()
        let mode = try faces.mode(for: loaded, path: model, threadsPerPhoto: pairs == nil ? cores : 1)
        if let pairs {
            try runPairs(pairs, embedder: embedder, mode: mode, metric: m, threshold: limit)
            return
        }
        let instance = loaded.makeInstance(threads: networkThreads(loaded, perPhoto: cores, explicit: threads != nil))
        let a = try embedder.embedFaces(images[0], mode: mode, with: instance)
        let b = try embedder.embedFaces(images[1], mode: mode, with: instance)
        try Self.checkComparable(a, images[0], metric: m)
        try Self.checkComparable(b, images[1], metric: m)
        let best = Self.closest(a, b, metric: m)
        print(JSONText.object([
            ("verified", best.distance <= limit ? "true" : "false"),
            ("distance", JSONText.number(best.distance)),
            ("threshold", JSONText.number(limit)),
            ("confidence", JSONText.confidence(DeepfaceModels.confidence(distance: best.distance, verified: best.distance <= limit, metric: m,
                                                                         entry: DeepfaceModels.entry(for: loaded.header)))),
            ("metric", JSONText.string(m.rawValue)),
            ("model", JSONText.string(loaded.header.modelName)),
            ("img1", JSONText.string(images[0])),
            ("img2", JSONText.string(images[1])),
            ("facial_areas", JSONText.object([("img1", FaceJSON.area(best.a.area)), ("img2", FaceJSON.area(best.b.area))])),
            ("time_ms", FaceJSON.milliseconds((monotonicSeconds() - start) * 1e3)),
        ]))
    }

    /// Every face's embedding must have a distance (see `Distance.problem`).
    static func checkComparable(_ faces: [FaceEmbedding], _ photo: String, metric: Metric) throws {
        for f in faces {
            if let why = Distance.problem(f.embedding, metric: metric) { throw FacecError(.argument, photo, "the embedding of face \(f.index) \(why)") }
        }
    }

    /// deepface's choice: the pair of faces (one per photo) at the smallest
    /// distance, the first such pair on ties (photo order, then face order).
    static func closest(_ a: [FaceEmbedding], _ b: [FaceEmbedding], metric: Metric) -> (distance: Double, a: FaceEmbedding, b: FaceEmbedding) {
        var best = (distance: Double.infinity, a: a[0], b: b[0])
        for x in a {
            for y in b {
                let d = Distance.distance(x.embedding, y.embedding, metric: metric)
                if d < best.distance { best = (d, x, y) }
            }
        }
        return best
    }

    private func runPairs(_ csvPath: String, embedder: Embedder, mode: FaceMode, metric: Metric, threshold: Double) throws {
        let list = try PairsFile(text: readTextFile(csvPath), path: csvPath)
        let dir = root ?? (csvPath.contains("/") ? String(csvPath[..<csvPath.lastIndex(of: "/")!]) : ".")
        func resolve(_ name: String) -> String { name.hasPrefix("/") ? name : dir + "/" + name }
        // The result's path is checked before any work: never the list, the model or a photo.
        let target = try output.map { try OutputFile.check($0, inputs: [model, csvPath] + list.pairs.flatMap { [resolve($0.fileX), resolve($0.fileY)] }) }
        var unique: [String] = []
        var indexOf: [String: Int] = [:]
        for p in list.pairs {
            for f in [p.fileX, p.fileY] where indexOf[f] == nil {
                indexOf[f] = unique.count
                unique.append(f)
            }
        }
        let t0 = monotonicSeconds()
        var faces: [[FaceEmbedding]] = []
        var failures: [String] = []
        embedder.embedFacesInOrder(unique.map(resolve), mode: mode, threads: threads ?? systemCoreCount()) { _, r in
            switch r {
            case .success(let f):
                if let bad = f.lazy.compactMap({ e in Distance.problem(e.embedding, metric: metric).map { (e.index, $0) } }).first {
                    failures.append("\(resolve(unique[faces.count])): the embedding of face \(bad.0) \(bad.1)")
                }
                faces.append(f)
            case .failure(let e): failures.append(String(describing: e)); faces.append([])
            }
        }
        let elapsed = monotonicSeconds() - t0
        guard failures.isEmpty else {
            throw FacecError(.argument, csvPath, "\(failures.count) of \(unique.count) images could not be used; first: \(failures[0])")
        }
        var csv = "file_x,file_y,distance,threshold,verified" + (list.hasLabels ? ",Decision" : "") + "\n"
        var tp = 0, fp = 0, tn = 0, fn = 0
        for p in list.pairs {
            let d = Self.closest(faces[indexOf[p.fileX]!], faces[indexOf[p.fileY]!], metric: metric).distance
            let verified = d <= threshold
            csv += "\(csvField(p.fileX)),\(csvField(p.fileY)),\(d),\(threshold),\(verified)"
            if list.hasLabels { csv += "," + (p.sameIdentity.map { $0 ? "Yes" : "No" } ?? "") }
            csv += "\n"
            switch (p.sameIdentity, verified) {
            case (true?, true): tp += 1
            case (true?, false): fn += 1
            case (false?, true): fp += 1
            case (false?, false): tn += 1
            default: break
            }
        }
        var summary = "pairs=\(list.pairs.count) images=\(unique.count) metric=\(metric.rawValue) threshold=\(threshold) embed_s=\(((elapsed * 1e3).rounded() / 1e3)) images_per_s=\(((Double(unique.count) / elapsed) * 10).rounded() / 10)"
        if list.hasLabels {
            let labelled = tp + fp + tn + fn
            let accuracy = labelled > 0 ? Double(tp + tn) / Double(labelled) : 0
            summary += " accuracy=\((accuracy * 1e4).rounded() / 1e4) TP=\(tp) FP=\(fp) TN=\(tn) FN=\(fn)"
        }
        if let target {
            try target.write(Array(csv.utf8))
            print(summary)
        } else {
            print(csv, terminator: "")
            writeStandardError(summary + "\n")
        }
    }

    private func csvField(_ s: String) -> String {
        guard s.contains(",") || s.contains("\"") else { return s }
        return "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }
}


#if canImport(Glibc)
import Glibc
#endif
