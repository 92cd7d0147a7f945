import Foundation
@testable import FacecKernels
import Testing
import FacecPipeline

/// The CLI contract: outputs, exit codes, one-line errors naming the file,
/// and no output file after a failure.
@Suite(.serialized) struct CLITests {
    @Test func convertRunVerifyInspectEndToEnd() throws {
        let dir = TempDir()
        let r = try facec(["convert", TestPaths.fixture("deepid_keras22.h5")], cwd: dir.url.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(dir.files == ["deepid_keras22.fgraph"])   // default name, in the cwd, no temp left
        let model = dir.path("deepid_keras22.fgraph")

        // .npy inputs -> JSON lines, and -> one [N, D] .npy, both matching TensorFlow.
        let run = try facec(["run", model, TestPaths.fixture("deepid_inputs.npy")])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 4)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["dim"] as? Int == 160 && (first["embedding"] as? [Double])?.count == 160 && first["ms"] is Double)
        #expect((first["input"] as? String)?.hasSuffix("deepid_inputs.npy[0]") == true)

        let out = dir.path("emb.npy")
        #expect(try facec(["run", model, TestPaths.fixture("deepid_inputs.npy"), "--npy", out]).status == 0)
        let got = try NPYFile.read(out), want = try NPYFile.read(TestPaths.fixture("deepid_expected.npy"))
        #expect(got.shape == [4, 160])
        #expect(relativeError(got.values, want.values) <= 1e-5)

        let inspect = try facec(["inspect", model])
        #expect(inspect.stdout.contains("zero padding") == false && inspect.stdout.contains("relu (deepid)"))
        #expect(inspect.stdout.contains("arena") && inspect.stdout.contains("views (no copy)"))
        let json = try facec(["inspect", model, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((obj["arena_bytes"] as! Int) < (obj["activations_total_bytes"] as! Int))
        #expect((obj["nodes"] as! [Any]).count == 10)

        #expect(try facec(["check", model]).status == 0)
    }

    @Test func helpAndVersionSucceed() throws {
        let help = try facec(["--help"])
        #expect(help.status == 0 && help.stdout.contains("convert") && help.stdout.contains("verify"))
        let sub = try facec(["run", "--help"])
        #expect(sub.status == 0 && sub.stdout.contains("--npy"))
        #expect(try facec(["--version"]).stdout.hasPrefix("facec "))
    }

    @Test func verifyTwoPhotos() throws {
        try #require(TestPaths.facesAvailable, "../shared/faces is absent: skipping photo tests")
        let dir = TempDir()
        #expect(try facec(["convert", TestPaths.demoWeights, "-o", dir.path("m.fgraph")]).status == 0)
        let img1 = TestPaths.faces.appendingPathComponent("img1.jpg").path, img2 = TestPaths.faces.appendingPathComponent("img2.jpg").path
        let r = try facec(["verify", dir.path("m.fgraph"), img1, img2, "--metric", "euclidean_l2"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        for key in ["verified", "distance", "threshold", "confidence", "metric", "model", "img1", "img2", "time_ms"] { #expect(o[key] != nil, "missing \(key)") }
        #expect(o["threshold"] as? Double == 0.17 && o["metric"] as? String == "euclidean_l2" && o["model"] as? String == "DeepID")
        let forced = try facec(["verify", dir.path("m.fgraph"), img1, img2, "--threshold", "2"])
        #expect((try JSONSerialization.jsonObject(with: Data(forced.stdout.utf8)) as! [String: Any])["verified"] as? Bool == true)
    }

    @Test func pairsModeOverMasterCSV() throws {
        try #require(TestPaths.facesAvailable, "../shared/faces is absent: skipping photo tests")
        let dir = TempDir()
        #expect(try facec(["convert", TestPaths.demoWeights, "-o", dir.path("m.fgraph")]).status == 0)
        let out = dir.path("pairs.csv")
        let r = try facec(["verify", dir.path("m.fgraph"), "--pairs", TestPaths.faces.appendingPathComponent("master.csv").path, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 301 && rows[0] == "file_x,file_y,distance,threshold,verified,Decision")
        #expect(r.stdout.contains("accuracy=") && r.stdout.contains("TP=") && r.stdout.contains("FN="))
        // TP+FP+TN+FN = 300
        let counts = ["TP", "FP", "TN", "FN"].compactMap { k in r.stdout.split(separator: " ").first { $0.hasPrefix(k + "=") }.flatMap { Int($0.dropFirst(k.count + 1).trimmingCharacters(in: .whitespacesAndNewlines)) } }
        #expect(counts.reduce(0, +) == 300)
    }

    @Test func badWeightFilesFailCleanlyWithoutOutput() throws {
        let dir = TempDir()
        let demo = try Data(contentsOf: URL(fileURLWithPath: TestPaths.demoWeights))
        _ = FileManager.default.createFile(atPath: dir.path("truncated.h5"), contents: demo.prefix(demo.count / 2))
        _ = FileManager.default.createFile(atPath: dir.path("text.h5"), contents: Data("not hdf5".utf8))
        let cases: [([String], String)] = [
            (["convert", dir.path("missing.h5")], "missing.h5: no such file"),
            (["convert", dir.path("truncated.h5")], "truncated.h5"),
            (["convert", dir.path("text.h5")], "unknown weight file format"),
            (["convert", TestPaths.fixture("small.weights.h5")], "Keras 3"),
            (["convert", TestPaths.fixture("deepid_wrong_shape.h5"), "--arch", "deepid"], "layer 'Conv2'"),
            (["convert", TestPaths.fixture("deepid_wrong_shape.h5")], "match no built-in architecture"),
            (["convert", TestPaths.fixture("unsupported_layer.h5")], "'bn' (BatchNormalization)"),
            (["convert", TestPaths.fixture("missing_weights.h5")], "'conv_b'"),
            (["convert", TestPaths.fixture("external_data.h5")], "'/Conv1/Conv1/kernel:0' keeps its data in an external file"),
            (["convert", TestPaths.fixture("external_link.h5")], "'/Conv1' is a link into another file"),
            (["convert", TestPaths.demoWeights, "--arch", "vgg9"], "unknown architecture"),
        ]
        for (args, text) in cases {
            let r = try facec(args + ["-o", dir.path("out.fgraph")], cwd: dir.url.path)
            expectFailure(r, mentioning: text)
            #expect(!dir.files.contains { $0.hasSuffix(".fgraph") || $0.contains(".tmp.") }, "output left after \(args)")
        }
        expectFailure(try facec(["convert", TestPaths.demoWeights, "-o", "/nonexistent-dir/x.fgraph"]), mentioning: "/nonexistent-dir/x.fgraph")
    }

    @Test func badModelsImagesAndOptionsFailCleanly() throws {
        let dir = TempDir()
        #expect(try facec(["convert", TestPaths.demoWeights, "-o", dir.path("m.fgraph")]).status == 0)
        let model = dir.path("m.fgraph")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        _ = FileManager.default.createFile(atPath: dir.path("trunc.fgraph"), contents: bytes.prefix(100_000))
        var flipped = bytes
        flipped[flipped.count / 2] ^= 0x01
        _ = FileManager.default.createFile(atPath: dir.path("flip.fgraph"), contents: flipped)
        _ = FileManager.default.createFile(atPath: dir.path("photo.png"), contents: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64)))
        _ = FileManager.default.createFile(atPath: dir.path("bad.npy"), contents: Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 10, 0] + Array("{'descr': '<f8', 'fortran_order': False, 'shape': (55, 47, 3), }".utf8)))
        let jpeg = TestPaths.fixture("deepid_inputs.npy")
        let cases: [([String], String)] = [
            (["run", dir.path("trunc.fgraph"), jpeg], "truncated"),
            (["run", dir.path("flip.fgraph"), jpeg], "checksum"),
            (["check", dir.path("flip.fgraph")], "checksum"),
            (["run", TestPaths.demoWeights, jpeg], "not a facec model"),
            (["run", model, dir.path("photo.png")], "PNG"),
            (["run", model, dir.path("nothing.jpg")], "nothing.jpg"),
            (["run", model, dir.path("bad.npy")], "float32"),
            (["run", model, TestPaths.fixture("small_seq_inputs.npy")], "does not fit the model input"),
            (["run", model, jpeg, "--npy", dir.path("out.npy"), dir.path("photo.png")], "PNG"),
            (["verify", model, jpeg], "two images"),
            (["verify", model, jpeg, jpeg, "--metric", "manhattan"], "manhattan"),
            (["verify", model, jpeg, jpeg, "--threshold", "-1"], "threshold"),
            (["verify", model, "--pairs", dir.path("none.csv")], "none.csv"),
            (["inspect", dir.path("nope.fgraph")], "nope.fgraph"),
            (["frobnicate"], "frobnicate"),
        ]
        for (args, text) in cases {
            expectFailure(try facec(args), mentioning: text)
        }
        #expect(!dir.files.contains("out.npy"))
    }
}
