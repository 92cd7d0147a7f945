import Foundation
import Testing

/// scripts/edge-proof.sh in the suite: facec-run (and the C example linked
/// with libfacec.a) in a bare Debian root give the same faces and embeddings
/// as facec here. Needs root and debootstrap (CI has both); the first run
/// builds dist/ (a release build) and the root (cached).
@Suite struct EdgeProofTests {
    static var possible: Bool {
        getuid() == 0 && ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The script's output, split at its "== <command>" lines.
    static func sections(_ text: String) -> [String: [String]] {
        var out: [String: [String]] = [:], current = ""
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("== ") { current = String(line.dropFirst(3).split(separator: " ").first ?? ""); out[current] = [] }
            else { out[current, default: []].append(line) }
        }
        return out
    }

    static func json(_ line: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    @Test(.enabled(if: possible, "needs root and debootstrap (apt-get install debootstrap): the bare-root proof is skipped"))
    func runtimeWorksInABareDebianRoot() throws {
        let r = try runProgram(TestPaths.repo.appendingPathComponent("scripts/edge-proof.sh").path, [],
                               environment: ProcessInfo.processInfo.environment.merging(["FACEC_CONVERTER": TestPaths.facecBinary]) { $1 })
        try #require(r.status == 0, "edge-proof.sh: \(r.stderr.suffix(2000))")
        let s = Self.sections(r.stdout)
        #expect(s["ok"] != nil && s["check"]?.first?.hasPrefix("ok: ") == true, "\(r.stdout.prefix(2000))")

        // The same model and photos here, with facec.
        let dir = TempDir()
        let model = dir.path("model.fgraph")
        #expect(try facec(["convert", TestPaths.demoWeights, "--detector", "opencv", "-o", model, "--quiet"]).status == 0)
        let w = TestPaths.repo.appendingPathComponent("Weights").path
        let here = try facec(["run", model, "\(w)/demo-couple.jpg", "\(w)/demo-face.jpg", "--threads", "1"]).stdout.split(separator: "\n").map { try Self.json(String($0)) }
        let there = try (s["run"] ?? []).map(Self.json)
        let embed = try (s["embed"] ?? []).map(Self.json)
        let embedShared = try (s["embed-so"] ?? []).map(Self.json)
        #expect(there.count == 3 && here.count == 3 && embed.count == 2 && embedShared.count == 2)
        for (k, (a, b)) in zip(there, here).enumerated() {
            #expect(a["facial_area"] as? NSDictionary == b["facial_area"] as? NSDictionary && a["face_confidence"] as? Double == b["face_confidence"] as? Double)
            let x = (a["embedding"] as! [Double]).map(Float.init), y = (b["embedding"] as! [Double]).map(Float.init)
            #expect(relativeError(x, y) <= 1e-6, "face \(k)")
            if k < embed.count {
                #expect(embed[k]["facial_area"] as? NSDictionary == b["facial_area"] as? NSDictionary)
                #expect(relativeError((embed[k]["embedding"] as! [Double]).map(Float.init), y) <= 1e-6)
                #expect(embedShared[k]["facial_area"] as? NSDictionary == b["facial_area"] as? NSDictionary)
                #expect(relativeError((embedShared[k]["embedding"] as! [Double]).map(Float.init), y) <= 1e-6)
            }
        }
        let verify = try Self.json(try #require(s["verify"]?.first))
        let verifyHere = try Self.json(try facec(["verify", model, "\(w)/demo-face.jpg", "\(w)/demo-face2.jpg", "--threads", "1"]).stdout)
        #expect(verify["distance"] as? Double == verifyHere["distance"] as? Double && verify["verified"] as? Bool == verifyHere["verified"] as? Bool)
        #expect(s["detect"]?.count == 2)
    }
}
