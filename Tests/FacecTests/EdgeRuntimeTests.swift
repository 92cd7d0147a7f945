import Foundation
import Testing
import FacecImage

/// The edge runtime: facec-run has no importer in its dependency graph, gives
/// facec's own output, and the C API (include/facec.h, examples/embed.c)
/// gives the same faces and embeddings as `facec run`.
@Suite(.serialized) struct EdgeRuntimeTests {
    /// Targets that only the converter (or the gallery) may link: the
    /// container readers, the translators, the compiler, SHA-256.
    static let converterOnly: Set<String> = ["FacecImporters", "FacecHDF5", "FacecMAT", "FacecDlib", "FacecXML", "FacecJoblib", "FacecGraph",
                                             "FacecDigest", "CHDF5", "CMatio", "CDeflate", "CZlib", "CLZ4"]

    /// The package's targets and their direct dependencies, from SwiftPM itself.
    static func targetGraph() throws -> (targets: [String: [String]], products: [String: [String]]) {
        let scratch = TempDir()
        let r = try runProgram("/usr/bin/env", ["swift", "package", "--package-path", TestPaths.repo.path,
                                                "--scratch-path", scratch.path("s"), "dump-package"])
        try #require(r.status == 0, "swift package dump-package: \(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        var targets: [String: [String]] = [:], products: [String: [String]] = [:]
        for t in json["targets"] as! [[String: Any]] {
            let deps = (t["dependencies"] as! [[String: Any]]).compactMap { d -> String? in
                guard let v = d.values.first as? [Any] else { return nil }
                return v.first as? String
            }
            targets[t["name"] as! String] = deps
        }
        for p in json["products"] as! [[String: Any]] { products[p["name"] as! String] = p["targets"] as? [String] ?? [] }
        return (targets, products)
    }

    static func closure(_ roots: [String], _ graph: [String: [String]]) -> Set<String> {
        var seen = Set<String>(), stack = roots
        while let t = stack.popLast() {
            guard seen.insert(t).inserted else { continue }
            stack += graph[t] ?? []
        }
        return seen
    }

    @Test func runtimeProductsDoNotDependOnTheConverter() throws {
        let (targets, products) = try Self.targetGraph()
        for product in ["facec-run", "FacecC", "FacecCStatic"] {
            let roots = try #require(products[product], "product \(product) is missing from Package.swift")
            let reached = Self.closure(roots, targets)
            #expect(reached.isDisjoint(with: Self.converterOnly), "\(product) reaches \(reached.intersection(Self.converterOnly).sorted())")
            #expect(reached.contains("FacecRuntime"))
        }
        // The full tool does reach the importers: the check above can fail.
        #expect(!Self.closure(products["facec"]!, targets).isDisjoint(with: Self.converterOnly))
        // And the runtime side imports no Foundation (it would drag ICU and
        // several MB into facec-run).
        for target in Self.closure(products["facec-run"]! + products["FacecC"]!, targets) {
            let dir = TestPaths.repo.appendingPathComponent("Sources/\(target)")
            for file in (try? FileManager.default.subpathsOfDirectory(atPath: dir.path)) ?? [] where file.hasSuffix(".swift") {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                #expect(!text.contains("import Foundation") && !text.contains("import FoundationEssentials"), "\(target)/\(file) imports Foundation")
            }
        }
    }

    /// JSON lines without the fields that hold times.
    static func withoutTimes(_ stdout: String) throws -> [NSDictionary] {
        try stdout.split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return o.filter { !["ms", "network_ms", "time_ms"].contains($0.key) } as NSDictionary
        }
    }

    @Test func facecRunGivesFacecsOutput() throws {
        let dir = TempDir()
        let model = dir.path("m.fgraph")
        #expect(try facec(["convert", TestPaths.demoWeights, "--detector", "opencv", "-o", model, "--quiet"]).status == 0)
        let photo = TestPaths.repo.appendingPathComponent("Weights/demo-couple.jpg").path
        let face = TestPaths.repo.appendingPathComponent("Weights/demo-face.jpg").path
        let run = TestPaths.binary("facec-run")
        for args in [["run", model, photo, face, "--threads", "1"], ["detect", model, photo, "--json"],
                     ["verify", model, photo, face, "--threads", "1"], ["inspect", model, "--json"]] {
            let a = try facec(args), b = try runProgram(run, args)
            #expect(a.status == 0 && b.status == 0, "\(args): \(a.stderr) \(b.stderr)")
            #expect(try Self.withoutTimes(a.stdout) == Self.withoutTimes(b.stdout), "\(args)")
        }
        let check = try runProgram(run, ["check", model])
        #expect(check.status == 0 && check.stdout.hasPrefix("ok: "))
        // Its own name in errors, and no convert.
        let bad = try runProgram(run, ["run", dir.path("missing.fgraph"), face])
        #expect(bad.status == 1 && bad.stderr.hasPrefix("facec-run: ") && bad.stderr.contains("missing.fgraph"), "\(bad.stderr)")
        let convert = try runProgram(run, ["convert", TestPaths.demoWeights])
        #expect(convert.status == 64 && convert.stderr.contains("unknown subcommand 'convert'"), "\(convert.stderr)")
    }

    /// Builds examples/embed.c with cc against the C API's shared library.
    static func buildExample(in dir: TempDir) throws -> String {
        let lib = URL(fileURLWithPath: TestPaths.binary("libFacecC.so")).deletingLastPathComponent().path
        let exe = dir.path("embed")
        let cc = try runProgram("/usr/bin/env", ["cc", "-std=c11", "-Wall", "-Werror", "-O1",
                                                 "-I", TestPaths.repo.appendingPathComponent("include").path,
                                                 TestPaths.repo.appendingPathComponent("examples/embed.c").path,
                                                 "-L", lib, "-lFacecC", "-Wl,-rpath,\(lib)", "-o", exe])
        try #require(cc.status == 0, "cc: \(cc.stderr)")
        return exe
    }

    /// The fields both print, embeddings as float32.
    static func faces(_ stdout: String) throws -> [[String: AnyHashable]] {
        try stdout.split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return ["input": o["input"] as! String, "face_index": o["face_index"] as! Int,
                    "facial_area": o["facial_area"] as! NSDictionary, "face_confidence": o["face_confidence"] as! Double,
                    "embedding": (o["embedding"] as! [Double]).map { Float($0) }, "dim": o["dim"] as! Int]
        }
    }

    @Test func cExampleMatchesFacecRun() throws {
        let dir = TempDir()
        let exe = try Self.buildExample(in: dir)
        let detecting = dir.path("d.fgraph"), crops = dir.path("s.fgraph")
        #expect(try facec(["convert", TestPaths.demoWeights, "--detector", "opencv", "-o", detecting, "--quiet"]).status == 0)
        #expect(try facec(["convert", TestPaths.demoWeights, "-o", crops, "--quiet"]).status == 0)
        let couple = TestPaths.repo.appendingPathComponent("Weights/demo-couple.jpg").path
        let face = TestPaths.repo.appendingPathComponent("Weights/demo-face.jpg").path
        let face2 = TestPaths.repo.appendingPathComponent("Weights/demo-face2.jpg").path

        // Files, with detection (two faces) and without.
        for (model, photos) in [(detecting, [couple, face]), (crops, [face, face2])] {
            let c = try runProgram(exe, [model] + photos)
            let f = try facec(["run", model] + photos + ["--threads", "1"])
            #expect(c.status == 0 && f.status == 0, "\(c.stderr) \(f.stderr)")
            let got = try Self.faces(c.stdout), want = try Self.faces(f.stdout)
            #expect(got.count == want.count)
            for (g, w) in zip(got, want) {
                for key in w.keys { #expect(g[key] == w[key], "\(key): \(String(describing: g[key])) vs \(String(describing: w[key]))") }
            }
        }
        #expect(try Self.faces(runProgram(exe, [detecting, couple]).stdout).count == 2)

        // A camera frame: the same photo as raw BGR bytes gives the same embedding.
        let image = try ImageDecoder.decodeFile(face)
        var bgr = image.pixels
        for i in stride(from: 0, to: bgr.count, by: 3) { bgr.swapAt(i, i + 2) }
        let raw = dir.path("face.bgr")
        try Data(bgr).write(to: URL(fileURLWithPath: raw))
        let px = try runProgram(exe, ["--bgr-pixels", crops, "\(image.width)", "\(image.height)", raw])
        #expect(px.status == 0, "\(px.stderr)")
        let fromPixels = try Self.faces(px.stdout), fromFile = try Self.faces(try facec(["run", crops, face, "--threads", "1"]).stdout)
        #expect(fromPixels.first?["embedding"] == fromFile.first?["embedding"])

        // Verify: the same distance and verdict as facec verify.
        let v = try runProgram(exe, ["--verify", crops, face, face2])
        let fv = try facec(["verify", crops, face, face2, "--metric", "cosine"])
        let a = try JSONSerialization.jsonObject(with: Data(v.stdout.utf8)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(fv.stdout.utf8)) as! [String: Any]
        #expect(a["distance"] as? Double == b["distance"] as? Double && a["verified"] as? Bool == b["verified"] as? Bool, "\(v.stdout) \(fv.stdout)")

        // Errors: a status and a line naming the file, no crash.
        let missing = try runProgram(exe, [dir.path("none.fgraph"), face])
        #expect(missing.status == 1 && missing.stderr.contains("none.fgraph"), "\(missing.stderr)")
        let notPhoto = try runProgram(exe, [crops, crops])
        #expect(notPhoto.status == 1 && notPhoto.stderr.contains("unknown image format"), "\(notPhoto.stderr)")
    }

    @Test func cAPIChecksItsArguments() throws {
        // A second C program calls every entry point with bad arguments.
        let dir = TempDir()
        let model = dir.path("m.fgraph")
        #expect(try facec(["convert", TestPaths.demoWeights, "-o", model, "--quiet"]).status == 0)
        let source = dir.path("bad.c")
        try """
            #include <stdio.h>
            #include "facec.h"
            #define CHECK(call, want) do { facec_status st_ = (call); if (st_ != (want)) { printf("FAIL %s: %d\\\\n", #call, st_); return 1; } \\
                if (st_ && !facec_last_error()[0]) { printf("FAIL no message: %s\\\\n", #call); return 1; } } while (0)
            int main(int argc, char **argv) {
                facec_model *m = (facec_model *)1; facec_session *s; facec_faces *f; double d; int v;
                float a[160] = {1}, b[160] = {0, 1};
                unsigned char px[12] = {0};
                CHECK(facec_model_open(NULL, &m), FACEC_ERROR_ARGUMENT);
                if (m != NULL) { printf("FAIL out not cleared\\\\n"); return 1; }
                CHECK(facec_model_open("/nonexistent.fgraph", &m), FACEC_ERROR_IO);
                CHECK(facec_model_open(argv[0], &m), FACEC_ERROR_MODEL);
                CHECK(facec_model_open(argv[1], &m), FACEC_OK);
                CHECK(facec_session_open(m, 0, &s), FACEC_ERROR_ARGUMENT);
                CHECK(facec_session_open(m, 1, &s), FACEC_OK);
                CHECK(facec_embed_file(s, NULL, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_file(s, argv[1], 0, &f), FACEC_ERROR_IMAGE);
                CHECK(facec_embed_file(s, "/nonexistent.jpg", 0, &f), FACEC_ERROR_IO);
                CHECK(facec_embed_file(s, argv[2], 8, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_file(s, argv[2], FACEC_DETECT, &f), FACEC_ERROR_NO_DETECTOR);
                CHECK(facec_embed_pixels(s, px, 2, 2, 5, FACEC_RGB, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_pixels(s, px, -1, 2, 6, FACEC_RGB, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_pixels(s, px, 100000, 100000, 300000, FACEC_BGR, 0, &f), FACEC_ERROR_IMAGE);
                CHECK(facec_embed_pixels(s, px, 2, 2, 6, (facec_pixel_order)7, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_pixels(s, px, 2, 2, 6, FACEC_BGR, 0, &f), FACEC_OK);
                if (facec_faces_count(f) != 1 || !facec_faces_embedding(f, 0) || facec_faces_face(f, 1) || facec_faces_embedding(f, 1)) { printf("FAIL faces\\\\n"); return 1; }
                facec_faces_free(f);
                CHECK(facec_detect_pixels(s, px, 2, 2, 6, FACEC_BGR, 0, &f), FACEC_OK);
                if (facec_faces_count(f) != 1 || facec_faces_embedding(f, 0) || facec_faces_face(f, 0)->w != 2) { printf("FAIL detect\\\\n"); return 1; }
                facec_faces_free(f);
                CHECK(facec_distance(a, b, 160, (facec_metric)9, &d), FACEC_ERROR_ARGUMENT);
                CHECK(facec_distance(a, b, 0, FACEC_COSINE, &d), FACEC_ERROR_ARGUMENT);
                CHECK(facec_distance(a, b, 160, FACEC_COSINE, &d), FACEC_OK);
                if (d != 1.0) { printf("FAIL cosine %g\\\\n", d); return 1; }
                CHECK(facec_verify(m, a, b, 100, FACEC_COSINE, &d, &v), FACEC_ERROR_ARGUMENT);
                CHECK(facec_verify(m, a, b, 160, FACEC_EUCLIDEAN_L2, &d, &v), FACEC_OK);
                if (v != 0) { printf("FAIL verified\\\\n"); return 1; }
                /* API 2: angular, batch distances, confidence, encoded memory, crops. */
                CHECK(facec_distance(a, b, 160, FACEC_ANGULAR, &d), FACEC_OK);
                if (d != 0.5) { printf("FAIL angular %g\\\\n", d); return 1; }
                float rows[3 * 161] = {0}, zero[160] = {0}; double ds[3];
                rows[0] = 1; rows[161 + 1] = 1; /* row 2 stays all zeros */
                CHECK(facec_distances(a, rows, 3, 160, 161, FACEC_ANGULAR, ds), FACEC_OK);
                if (ds[0] != 0 || ds[1] != 0.5 || ds[2] != 1) { printf("FAIL distances %g %g %g\\\\n", ds[0], ds[1], ds[2]); return 1; }
                CHECK(facec_distances(a, rows, 3, 160, 159, FACEC_COSINE, ds), FACEC_ERROR_ARGUMENT);
                CHECK(facec_distances(a, NULL, 3, 160, 160, FACEC_COSINE, ds), FACEC_ERROR_ARGUMENT);
                CHECK(facec_distances(zero, rows, 3, 160, 161, FACEC_COSINE, ds), FACEC_ERROR_ARGUMENT);
                CHECK(facec_distances(a, NULL, 0, 160, 160, FACEC_COSINE, ds), FACEC_OK);
                int integral = 7;
                CHECK(facec_confidence(m, 0.0, FACEC_COSINE, 1, &d, &integral), FACEC_OK);
                if (d != 100 || integral != 0) { printf("FAIL confidence at 0: %g %d\\\\n", d, integral); return 1; }
                CHECK(facec_confidence(m, 1.0 / 0.0, FACEC_COSINE, 1, &d, NULL), FACEC_ERROR_ARGUMENT);
                CHECK(facec_confidence(m, -1e-6, FACEC_COSINE, 0, &d, NULL), FACEC_OK);
                if (d != 0) { printf("FAIL confidence below 0: %g\\\\n", d); return 1; }
                CHECK(facec_confidence(m, 0.1, FACEC_COSINE, 2, &d, NULL), FACEC_ERROR_ARGUMENT);
                CHECK(facec_confidence(m, 0.1, (facec_metric)9, 0, &d, NULL), FACEC_ERROR_ARGUMENT);
                CHECK(facec_confidence(NULL, 0.1, FACEC_COSINE, 0, &d, NULL), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_memory(s, NULL, 10, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_memory(s, px, 0, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_memory(s, px, sizeof px, 0, &f), FACEC_ERROR_IMAGE);
                CHECK(facec_detect_pixels(s, px, 2, 2, 6, FACEC_BGR, FACEC_WITH_CROPS, &f), FACEC_OK);
                int cw = 0, ch = 0;
                const uint8_t *crop = facec_faces_crop(f, 0, &cw, &ch);
                if (!crop || cw != 2 || ch != 2 || facec_faces_crop(f, 1, &cw, &ch) || cw != 0) { printf("FAIL crop\\\\n"); return 1; }
                facec_faces_free(f);
                CHECK(facec_detect_pixels(s, px, 2, 2, 6, FACEC_BGR, 0, &f), FACEC_OK);
                if (facec_faces_crop(f, 0, &cw, &ch)) { printf("FAIL crop without FACEC_WITH_CROPS\\\\n"); return 1; }
                facec_faces_free(f);
                facec_session_close(s); facec_model_close(m); facec_faces_free(NULL); facec_model_close(NULL);
                printf("ok %s %zu %s\\\\n", facec_model_name(m == NULL ? NULL : m) ? "named" : "?", (size_t)160, facec_version());
                return 0;
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let lib = URL(fileURLWithPath: TestPaths.binary("libFacecC.so")).deletingLastPathComponent().path
        let cc = try runProgram("/usr/bin/env", ["cc", "-std=c11", "-Wall", "-I", TestPaths.repo.appendingPathComponent("include").path,
                                                 source, "-L", lib, "-lFacecC", "-Wl,-rpath,\(lib)", "-o", dir.path("bad")])
        try #require(cc.status == 0, "cc: \(cc.stderr)")
        let r = try runProgram(dir.path("bad"), [model, TestPaths.repo.appendingPathComponent("Weights/demo-face.jpg").path])
        #expect(r.status == 0 && r.stdout.hasPrefix("ok "), "\(r.stdout) \(r.stderr)")
    }
}
