import FacecCLI
import FacecCore
import FacecFormat
import FacecGallery
import FacecRuntime
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

/// The options shared by the gallery commands that embed photos.
struct GalleryModelContext {
    let model: Model
    let mode: FaceMode
    let galleryModel: GalleryModel

    init(modelPath: String, faces: FaceOptions, threadsPerPhoto: Int) throws {
        model = try Model(path: modelPath)
        mode = try faces.mode(for: model, path: modelPath, threadsPerPhoto: threadsPerPhoto)
        let detector: String
        if case .detect = mode { detector = model.header.detector?.kind ?? "opencv" } else { detector = "skip" }
        galleryModel = GalleryModel(model.header, detector: detector)
    }
}

struct GalleryAddCommand: Command {
    static let spec = CommandSpec(
        name: "gallery add",
        abstract: "Add photos (files or folders, walked for .jpg/.jpeg/.png/.webp) to a gallery, creating it if needed; unchanged photos are not embedded again.",
        discussion: """
            GALLERY is a file (an embedded SQLite gallery) or a postgresql:// URL (PostgreSQL with pgvector). \
            Each photo's person is the folder under a given folder (DIR/PERSON/photo.jpg), else the file name without extension. \
            A changed photo (size, time and content) replaces its faces; a photo without a face is recorded without faces. \
            Photos are stored in transactions of whole photos, so an interrupted run loses at most the photos not yet stored. \
            Prints one summary line; photos that cannot be used are reported on stderr and make the exit status 1.
            """,
        arguments: [.one("model", help: "The .fgraph model (the gallery records it and refuses others)."),
                    .one("gallery", help: "Gallery file or postgresql:// URL."),
                    .many("paths", help: "Photos or folders of photos.")],
        options: FaceOptions.options + [
            .option(.person, help: "The person of every photo added (instead of folder or file names)."),
            .flag(.prune, help: "Also remove stored photos that are no longer in the given folders."),
            .option(.threads, help: "Threads (default: all cores)."),
        ])

    let model, gallery: String
    let paths: [String]
    let faces: FaceOptions
    let person: String?
    let prune: Bool
    let threads: Int

    init(_ a: ParsedArguments) throws {
        model = a.argument("model"); gallery = a.argument("gallery"); paths = a.arguments("paths")
        faces = try FaceOptions(a)
        person = a.string(.person)
        prune = a.flag(.prune)
        threads = try a.threads() ?? systemCoreCount()
        if let person, person.isEmpty { throw FacecError(.usage, "", "--person must not be empty") }
    }

    func run() throws {
        // The gallery file is written: never the model or a photo given.
        if let id = FileIdentity(path: gallery), ([model] + paths).contains(where: { FileIdentity(path: $0) == id }) {
            throw FacecError(.gallery, gallery, "is also an input of this command (the model or a photo); refusing to write a gallery into it")
        }
        let context = try GalleryModelContext(modelPath: model, faces: faces, threadsPerPhoto: 1)
        let store = try Gallery.open(gallery, model: context.galleryModel, create: true)
        let builder = GalleryBuilder(store: store, embedder: Embedder(model: context.model), mode: context.mode, threads: threads)
        let r = try builder.add(paths, person: person, prune: prune) { report($0) }
        let total = try store.stats()
        print("\(store.location): added \(r.added) photos, replaced \(r.replaced), unchanged \(r.unchanged), pruned \(r.pruned); "
              + "\(r.faces) faces embedded, \(r.withoutFace) photos without a face, \(r.failed) failed; "
              + "now \(total.photos) photos, \(total.faces) faces, \(total.people) people; "
              + "\(String(format1: r.seconds)) s (network \(String(format1: r.networkSeconds)) s)")
        if r.failed > 0 { throw ExitStatus(1) }
    }
}

struct GalleryListCommand: Command {
    static let spec = CommandSpec(
        name: "gallery list",
        abstract: "List a gallery's photos: path, person and faces (JSON lines with --json).",
        arguments: [.one("gallery", help: "Gallery file or postgresql:// URL.")],
        options: [.flag(.json, help: "One JSON object per photo: path, person, facial_areas.")])

    let gallery: String
    let json: Bool
    init(_ a: ParsedArguments) throws { gallery = a.argument("gallery"); json = a.flag(.json) }

    func run() throws {
        let store = try Gallery.open(gallery, model: nil, create: false)
        for p in try store.listing() {
            if json {
                print(JSONText.object([("path", JSONText.string(p.path)), ("person", JSONText.string(p.person)),
                                       ("facial_areas", "[" + p.faces.map(FaceJSON.area).joined(separator: ",") + "]")]))
            } else {
                print("\(p.path)\t\(p.person)\t\(p.faces.count) face\(p.faces.count == 1 ? "" : "s")")
            }
        }
    }
}

struct GalleryRemoveCommand: Command {
    static let spec = CommandSpec(
        name: "gallery remove",
        abstract: "Remove photos from a gallery: by path as stored, every photo under a folder, or every photo of a person.",
        arguments: [.one("gallery", help: "Gallery file or postgresql:// URL."), .many("paths", required: false, help: "Stored photo paths or folders.")],
        options: [.option(.person, help: "Remove every photo of this person.")])

    let gallery: String
    let paths: [String]
    let person: String?
    init(_ a: ParsedArguments) throws {
        gallery = a.argument("gallery"); paths = a.arguments("paths"); person = a.string(.person)
        guard !paths.isEmpty || person != nil else { throw FacecError(.usage, "", "give photo paths, folders or --person") }
    }

    func run() throws {
        let store = try Gallery.open(gallery, model: nil, create: false)
        let states = try store.photoStates()
        let folders = paths.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        let chosen = states.filter { path, s in
            paths.contains(path) || folders.contains { path.hasPrefix($0) } || s.person == person
        }.keys.sorted()
        let n = try store.remove(paths: chosen)
        print("\(store.location): removed \(n) photo\(n == 1 ? "" : "s")")
        if n == 0 { throw FacecError(.gallery, store.location, "nothing matched \((paths + (person.map { ["person \($0)"] } ?? [])).joined(separator: ", "))") }
    }
}

struct GalleryStatsCommand: Command {
    static let spec = CommandSpec(
        name: "gallery stats",
        abstract: "What a gallery holds and the model it was built with.",
        arguments: [.one("gallery", help: "Gallery file or postgresql:// URL.")],
        options: [.flag(.json, help: "One JSON object.")])

    let gallery: String
    let json: Bool
    init(_ a: ParsedArguments) throws { gallery = a.argument("gallery"); json = a.flag(.json) }

    func run() throws {
        let store = try Gallery.open(gallery, model: nil, create: false)
        let s = try store.stats()
        if json {
            let m = s.model
            print(JSONText.object([("gallery", JSONText.string(store.location)), ("photos", "\(s.photos)"),
                                   ("photos_without_face", "\(s.photosWithoutFace)"), ("faces", "\(s.faces)"), ("people", "\(s.people)"),
                                   ("bytes", "\(s.bytes)"), ("model", JSONText.string(m.name)), ("output", JSONText.string(m.output)),
                                   ("dim", "\(m.dim)"), ("detector", JSONText.string(m.detector)), ("weights", JSONText.string(m.weights)),
                                   ("source_sha256", JSONText.string(m.sourceSHA256))]))
        } else {
            print("\(store.location): \(s.photos) photos (\(s.photosWithoutFace) without a face), \(s.faces) faces, \(s.people) people, \(s.bytes) bytes; model \(s.model.summary)")
        }
    }
}

struct GalleryIndexCommand: Command {
    static let spec = CommandSpec(
        name: "gallery index",
        abstract: "Build the HNSW index that 'find --search hnsw' uses (PostgreSQL galleries).",
        arguments: [.one("gallery", help: "postgresql:// URL.")],
        options: [.option(.metric, help: "cosine, euclidean_l2 and angular share a cosine index (the default); euclidean has its own."),
                  .option(.m, help: "Links per node (pgvector's default 16; 32 for galleries of a million faces)."),
                  .option(.efConstruction, help: "Build beam (pgvector's default 64; 200 for galleries of a million faces).")])

    let gallery: String
    let metric: Metric
    let parameters: HNSWParameters
    init(_ a: ParsedArguments) throws {
        gallery = a.argument("gallery")
        metric = try a.choice(.metric, Metric.self) ?? .cosine
        parameters = HNSWParameters(m: try a.int(.m) ?? 16, efConstruction: try a.int(.efConstruction) ?? 64)
        if let problem = parameters.validate() { throw FacecError(.usage, "", problem) }
    }

    func run() throws {
        let store = try Gallery.open(gallery, model: nil, create: false)
        try Gallery.createIndex(store, metric: metric, parameters: parameters)
        print("\(store.location): HNSW index for \(metric.rawValue) ready")
    }
}

extension String {
    init(format1 x: Double) { self = "\((x * 10).rounded() / 10)" }
}
