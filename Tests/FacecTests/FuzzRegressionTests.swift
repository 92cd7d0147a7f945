import Foundation
import Testing

/// What libFuzzer found (scripts/fuzz.sh), kept as files:
/// - Tests/Fuzz/regressions/TARGET/*: inputs that broke facec's own code,
///   replayed in-process through the same target (facec-fuzz, plain build);
/// - Tests/Fuzz/upstream/*: inputs that crash or hang Debian's libhdf5
///   (and formerly libmatio), which facec cannot fix: `facec convert` must refuse them
///   with one line and no output file, within its time limit.
/// The seed corpora go through every target too.
@Suite struct FuzzRegressionTests {
    static let fuzzDir = TestPaths.repo.appendingPathComponent("Tests/Fuzz")
    static let targets = ["fgraph", "image", "npy", "pairs", "detector", "keras", "mat"]

    static func files(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0).path }
    }

    @Test(arguments: targets)
    func seedsAndRegressionsRunCleanly(target: String) throws {
        let inputs = Self.files(Self.fuzzDir.appendingPathComponent("corpus/\(target)"))
            + Self.files(Self.fuzzDir.appendingPathComponent("regressions/\(target)"))
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
        // One line from facec; glibc may print its own abort message first
        // when libhdf5 has corrupted the heap.
        let lines = r.stderr.split(separator: "\n")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(lines.last?.hasPrefix("facec: ") == true && lines.last?.contains(URL(fileURLWithPath: file).lastPathComponent) == true, "\(r.stderr)")
        #expect(lines.dropLast().allSatisfy { $0.hasPrefix("Fatal glibc error") }, "\(r.stderr)")
        #expect(dir.files.isEmpty, "left \(dir.files)")
        #expect(Date().timeIntervalSince(start) < 60)
    }
}
