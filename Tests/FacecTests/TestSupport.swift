import Foundation
import Testing
import FacecFormat
import FacecGraph
import FacecImporters
import FacecRuntime
import FacecPipeline

/// Paths and helpers shared by the tests. Fixtures are found relative to this
/// file; the `facec` binary next to the test bundle (swift test builds it).
enum TestPaths {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repo = testsDir.deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = testsDir.appendingPathComponent("Fixtures")
    static let shared = repo.deletingLastPathComponent().appendingPathComponent("shared")
    static let faces = shared.appendingPathComponent("faces")
    static var facesAvailable: Bool { FileManager.default.fileExists(atPath: faces.appendingPathComponent("master.csv").path) }
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static let demoWeights = repo.appendingPathComponent("Weights/deepid-random.h5").path

    static var facecBinary: String { binary("facec") }

    /// A product of this build (facec, facec-run, libFacecC.so…): next to the
    /// test runner, which lives in …/debug/ (or inside an .xctest bundle there).
    static func binary(_ name: String) -> String {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repo.appendingPathComponent(".build/debug/\(name)").path
    }
}

/// A fresh temporary directory per test.
final class TempDir: Sendable {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("facec-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    var files: [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? [] }
}

struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs the facec binary.
func facec(_ args: [String], cwd: String? = nil) throws -> CLIResult {
    try runProgram(TestPaths.facecBinary, args, cwd: cwd)
}

/// Runs any program and collects its output.
/// With `timeout`, a program still running then is killed (SIGKILL).
func runProgram(_ path: String, _ args: [String], cwd: String? = nil, environment: [String: String]? = nil,
                timeout: Double? = nil) throws -> CLIResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    if let environment { p.environment = environment }
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    if let timeout {
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if p.isRunning { kill(pid, SIGKILL) } }
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// A failed facec run: non-zero exit, one line on stderr naming `text`, no crash.
func expectFailure(_ r: CLIResult, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status != 0, "exit 0 for a bad input", sourceLocation: sourceLocation)
    #expect(r.stderr.hasPrefix("facec: "), "\(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stderr.contains(text), "\(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
    #expect(!r.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
}

/// Converts with the library (importer -> compiler -> writer) and loads the result.
func convertAndLoad(_ source: String, to dir: TempDir, import importOptions: ImportOptions = ImportOptions(),
                    options: CompileOptions = CompileOptions()) throws -> Model {
    let (graph, description) = try ModelImporter.load(path: source, options: importOptions)
    let compiled = try Compiler.compile(graph, description, options: options)
    let out = dir.path(URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent + ".fgraph")
    try ModelWriter.write(header: compiled.header, producers: compiled.producers, to: out)
    return try Model(path: out)
}

/// max |a - b| / max |b|: the relative error the tolerance is stated in.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0, scale = 0.0
    for i in a.indices {
        diff = max(diff, abs(Double(a[i]) - Double(b[i])))
        scale = max(scale, abs(Double(b[i])))
    }
    return scale == 0 ? diff : diff / scale
}

func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices { dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i]) }
    return dot / (na.squareRoot() * nb.squareRoot())
}

/// Runs `model` on every image of an [N,H,W,C] tensor.
func embedAll(_ model: Model, _ inputs: NPYFile) throws -> [[Float]] {
    let n = inputs.shape[0], per = inputs.values.count / n
    let instance = model.makeInstance()
    return try (0..<n).map { k in try instance.embed(Array(inputs.values[(k * per)..<((k + 1) * per)])) }
}
