import Foundation
import Testing

/// What libFuzzer found (scripts/fuzz.sh), kept as files:
/// - Tests/Fuzz/regressions/TARGET/*: inputs that broke facec's own code,
///   replayed in-process through the same target (facec-fuzz, plain build);
/// - Tests/Fuzz/upstream/*: inputs that crashed, hung or exhausted memory in
///   Debian's libhdf5 and libmatio, which facec's own readers replaced:
///   replayed through the importer targets, and `facec convert` must refuse
///   each with one line and no output file, in well under a second.
/// The seed corpora go through every target too.
@Suite struct FuzzRegressionTests {
    static let fuzzDir = TestPaths.repo.appendingPathComponent("Tests/Fuzz")
    static let targets = ["fgraph", "fgraph-header", "image", "npy", "pairs", "detector", "keras", "mat", "dlib", "joblib"]

    static func files(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0).path }
    }

    @Test(arguments: targets)
    func seedsAndRegressionsRunCleanly(target: String) throws {
        let upstream = Self.files(Self.fuzzDir.appendingPathComponent("upstream"))
            .filter { target == "keras" ? $0.hasSuffix(".h5") : target == "mat" ? $0.hasSuffix(".mat") : false }
        let inputs = Self.files(Self.fuzzDir.appendingPathComponent("corpus/\(target)"))
            + Self.files(Self.fuzzDir.appendingPathComponent("regressions/\(target)")) + upstream
        try #require(!inputs.isEmpty, "no seeds for \(target)")
        let r = try runProgram(TestPaths.binary("facec-fuzz"), [target] + inputs)
        #expect(r.status == 0, "\(target): \(r.stderr.suffix(1500))")
        #expect(r.stdout.split(separator: "\n").count == inputs.count)
    }

    @Test(arguments: files(fuzzDir.appendingPathComponent("upstream")))
    func upstreamReaderBugsAreRefused(file: String) throws {
        let dir = TempDir()
        let start = Date()
        let r = try runProgram(TestPaths.facecBinary, ["convert", file, "-o", dir.path("out.fgraph")], timeout: 90)
        let lines = r.stderr.split(separator: "\n")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(lines.count == 1 && lines[0].hasPrefix("facec: ") && lines[0].contains(URL(fileURLWithPath: file).lastPathComponent), "\(r.stderr)")
        #expect(!r.stderr.contains("crashed") && !r.stderr.contains("did not finish"), "\(r.stderr)")
        #expect(dir.files.isEmpty, "left \(dir.files)")
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
