import ArgumentParser
import FacecFormat
import FacecRuntime
import FacecVerify
#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Print the embedding of each input (a JPEG, or a preprocessed float32 .npy [H,W,C] or [N,H,W,C]).")

    @Argument(help: "The .fgraph model.") var model: String
    @Argument(help: "JPEG photos (face crops) or .npy tensors.") var inputs: [String]
    @Option(help: "Write all embeddings as one float32 .npy of shape [N, D] instead of JSON lines.") var npy: String?
    @Option(help: "Also print the K most likely identities (models with class names, e.g. VGG-Face from .mat).") var top: Int?

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one input") }
        if let top { guard top >= 1 else { throw ValidationError("--top must be at least 1") } }
        guard top == nil || npy == nil else { throw ValidationError("--top prints JSON lines; it does not combine with --npy") }
    }

    func run() throws {
        let loaded = try Model(path: model)
        if top != nil && loaded.header.classesValue == nil {
            throw VerifyError(model, "the model has no class names, so --top has nothing to rank (VGG-Face .mat files carry them)")
        }
        let embedder = Embedder(model: loaded)
        let instance = loaded.makeInstance()
        var all: [Float] = []
        var rows = 0
        for path in inputs {
            for item in try Self.items(path, model: loaded) {
                let start = Clock.now()
                let tensor: [Float]
                switch item.source {
                case .image: tensor = try embedder.inputTensor(forImage: path)
                case .tensor(let t): tensor = t
                }
                let netStart = Clock.now()
                let embedding = instance.embed(tensor)
                let end = Clock.now()
                rows += 1
                if npy != nil {
                    all += embedding
                } else {
                    var fields = [
                        ("input", JSONText.string(item.name)),
                        ("embedding", JSONText.array(embedding)),
                        ("dim", "\(embedding.count)"),
                        ("ms", JSONText.number(((end - start) * 1e6).rounded() / 1e3)),
                        ("network_ms", JSONText.number(((end - netStart) * 1e6).rounded() / 1e3)),
                    ]
                    if let top, let probabilities = instance.classProbabilities() {
                        fields.append(("top", Self.topClasses(probabilities, names: loaded.header.classNames, k: top)))
                    }
                    print(JSONText.object(fields))
                }
            }
        }
        if let npy {
            try AtomicFile.write(NPYFile(shape: [rows, loaded.header.output.dim], values: all).encoded(), to: npy)
        }
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
        enum Source { case image, tensor([Float]) }
        let name: String
        let source: Source
    }

    /// A .npy (by its magic, whatever the name) gives one item per image in it.
    static func items(_ path: String, model: Model) throws -> [Item] {
        guard isNPY(path) else { return [Item(name: path, source: .image)] }
        let file = try NPYFile.read(path)
        let i = model.header.input
        let one = [i.height, i.width, i.channels]
        if file.shape == one { return [Item(name: path, source: .tensor(file.values))] }
        guard file.shape.count == 4, Array(file.shape.dropFirst()) == one else {
            throw VerifyError(path, "tensor shape \(file.shape) does not fit the model input [H,W,C] = \(one) or [N,\(one.map(String.init).joined(separator: ","))]")
        }
        let n = i.height * i.width * i.channels
        return (0..<file.shape[0]).map { k in
            Item(name: "\(path)[\(k)]", source: .tensor(Array(file.values[(k * n)..<((k + 1) * n)])))
        }
    }

    static func isNPY(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return path.hasSuffix(".npy") }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 6)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 6) }
        return n == 6 && head == NPYFile.magic
    }
}

/// Small outputs (.npy, .csv) written via a temporary file and rename, so a
/// failure leaves no half-written file.
enum AtomicFile {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let temp = path + ".tmp.\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VerifyError(path, "cannot create: \(String(cString: strerror(errno)))") }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard n == bytes.count, synced, rename(temp, path) == 0 else {
            unlink(temp)
            throw VerifyError(path, "write failed: \(String(cString: strerror(errno)))")
        }
    }
}
