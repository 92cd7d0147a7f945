import FacecCore
import FacecFormat
import FacecRuntime
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: Command {
    static let spec = CommandSpec(
        name: "run",
        abstract: "Print the embedding of every face in each photo (JPEG, PNG, WebP), or of preprocessed float32 .npy tensors [H,W,C] or [N,H,W,C].",
        discussion: """
            One JSON line per face, in input order and, within a photo, in deepface's face order: input, face_index, \
            facial_area {x, y, w, h, left_eye, right_eye}, face_confidence, embedding, dim, ms (the photo's time), network_ms. \
            A photo that cannot be used is reported on stderr as one line and the others still run; the exit status is then 1. \
            With --npy, one row per face, and nothing is written unless every input succeeds.
            """,
        arguments: [.one("model", help: "The .fgraph model."), .many("inputs", help: "Photos (JPEG, PNG, WebP) or .npy tensors.")],
        options: FaceOptions.options + [
            .option(.npy, help: "Write all embeddings as one float32 .npy of shape [N, D] (one row per face) instead of JSON lines."),
            .option(.top, help: "Also print the K most likely identities (models with class names, e.g. VGG-Face from .mat)."),
            .option(.threads, help: "Threads (default: all cores): photos in parallel, and one photo's face search split when there are fewer photos than threads."),
        ])

    let model: String
    let inputs: [String]
    let faces: FaceOptions
    let npy: String?
    let top: Int?
    let threads: Int?

    init(_ a: ParsedArguments) throws {
        model = a.argument("model")
        inputs = a.arguments("inputs")
        faces = try FaceOptions(a)
        npy = a.string(.npy)
        top = try a.int(.top)
        threads = try a.threads()
        guard !inputs.isEmpty else { throw FacecError(.usage, "", "give at least one input") }
        if let top { guard top >= 1 else { throw FacecError(.usage, "", "--top must be at least 1") } }
        guard top == nil || npy == nil else { throw FacecError(.usage, "", "--top prints JSON lines; it does not combine with --npy") }
    }

    /// One embedded face (or tensor) ready to print.
    struct Row: Sendable {
        let input: String
        let face: FaceEmbedding?
        let embedding: [Float]
        let totalMs, networkMs: Double
        let top: String?
    }

    func run() throws {
        // The output is checked before any work (never one of the inputs).
        let output = try npy.map { try OutputFile.check($0, inputs: [model] + self.inputs) }
        let loaded = try Model(path: model)
        if top != nil && loaded.header.classesValue == nil {
            throw FacecError(.argument, model, "the model has no class names, so --top has nothing to rank (VGG-Face .mat files carry them)")
        }
        let split = threadSplit(threads: threads ?? systemCoreCount(), photos: inputs.count)
        let mode = try faces.mode(for: loaded, path: model, threadsPerPhoto: split.perPhoto)
        let embedder = Embedder(model: loaded)
        let networkThreads = FacecCLI.networkThreads(loaded, perPhoto: split.perPhoto, explicit: threads != nil)
        let inputs = self.inputs, top = self.top
        var all: [Float] = []
        var rows = 0, failures = 0
        try ParallelInOrder.run(count: inputs.count, threads: split.photoWorkers, state: { loaded.makeInstance(threads: networkThreads) }, work: { i, instance in
            Swift.Result { try Self.rows(inputs[i], model: loaded, embedder: embedder, mode: mode, instance: instance, top: top) }
        }) { _, result in
            switch result {
            case .failure(let error):
                failures += 1
                if npy != nil { throw error }   // no partial .npy
                report(String(describing: error))
            case .success(let list):
                for row in list {
                    rows += 1
                    if npy != nil { all += row.embedding } else { print(Self.json(row)) }
                }
                flushStandardOutput()
            }
        }
        if let output {
            try output.write(NPYFile(shape: [rows, loaded.header.output.dim], values: all).encoded())
        }
        if failures > 0 { throw ExitStatus(1) }
    }

    static func rows(_ path: String, model: Model, embedder: Embedder, mode: FaceMode, instance: ModelInstance, top: Int?) throws -> [Row] {
        func ranked() -> String? {
            guard let top, let p = instance.classProbabilities() else { return nil }
            return topClasses(p, names: model.header.classNames, k: top)
        }
        let tensors = try items(path, model: model)
        guard tensors.isEmpty else {
            return try tensors.map { item in
                let start = monotonicSeconds()
                let e = try instance.embed(item.tensor)
                let ms = (monotonicSeconds() - start) * 1e3
                return Row(input: item.name, face: nil, embedding: e, totalMs: ms, networkMs: ms, top: ranked())
            }
        }
        // Faces one by one, so that --top reads each face's probabilities.
        var out: [Row] = []
        for f in try embedder.embedFaces(path, mode: mode, with: instance, each: { _ in ranked() }) {
            out.append(Row(input: path, face: f.face, embedding: f.face.embedding, totalMs: f.face.totalMs, networkMs: f.face.networkMs, top: f.extra))
        }
        return out
    }

    static func json(_ row: Row) -> String {
        var fields = [("input", JSONText.string(row.input))]
        if let f = row.face {
            fields += [("face_index", "\(f.index)"), ("facial_area", FaceJSON.area(f.area)), ("face_confidence", JSONText.number(f.confidence))]
        }
        fields += [
            ("embedding", JSONText.array(row.embedding)),
            ("dim", "\(row.embedding.count)"),
            ("ms", FaceJSON.milliseconds(row.totalMs)),
            ("network_ms", FaceJSON.milliseconds(row.networkMs)),
        ]
        if let top = row.top { fields.append(("top", top)) }
        return JSONText.object(fields)
    }

    /// [{"class": name, "index": i, "probability": p}, ...], most likely first.
    static func topClasses(_ p: [Float], names: [String], k: Int) -> String {
        let best = p.indices.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }.prefix(k)
        return "[" + best.map { i in
            JSONText.object([("class", JSONText.string(i < names.count ? names[i] : "#\(i)")), ("index", "\(i)"),
                             ("probability", JSONText.number(p[i]))])
        }.joined(separator: ",") + "]"
    }

    struct Item {
        let name: String
        let tensor: [Float]
    }

    /// The tensors of a .npy (by its magic, whatever the name): one per image
    /// in it; no items for anything else (a photo).
    static func items(_ path: String, model: Model) throws -> [Item] {
        guard isNPY(path) else { return [] }
        let file = try NPYFile.read(path)
        let i = model.header.input
        let one = [i.height, i.width, i.channels]
        if file.shape == one { return [Item(name: path, tensor: file.values)] }
        guard file.shape.count == 4, Array(file.shape.dropFirst()) == one else {
            throw FacecError(.input, path, "tensor shape \(file.shape) does not fit the model input [H,W,C] = \(one) or [N,\(one.map(String.init).joined(separator: ","))]")
        }
        let n = i.height * i.width * i.channels
        guard file.shape[0] > 0 else { throw FacecError(.input, path, "holds no tensors (shape \(file.shape))") }
        return (0..<file.shape[0]).map { k in
            Item(name: "\(path)[\(k)]", tensor: Array(file.values[(k * n)..<((k + 1) * n)]))
        }
    }

    static func isNPY(_ path: String) -> Bool {
        guard case .success(let (fd, _)) = InputFile.open(path) else { return path.hasSuffix(".npy") }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 6)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 6) }
        return n == 6 && head == NPYFile.magic
    }
}
