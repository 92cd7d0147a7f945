import Foundation
import Testing
import FacecFormat
import FacecGraph
import FacecImporters
import FacecRuntime
import FacecPipeline

/// f16 and int8 models against the float32 model converted from the same
/// weights, as a user runs them: `facec convert --weights`, then `facec run`
/// over every photo of ../shared/faces and `facec verify --pairs` over its
/// master.csv. The bounds are the issue's: f16 max |Δ| / max |y| ≤ 1e-3 per
/// photo; int8 cosine ≥ 0.999 per photo and ≥ 99% of pair verdicts unchanged.
@Suite(.enabled(if: TestPaths.facesAvailable, "../shared/faces is needed"))
struct ReducedPrecisionAccuracyTests {
    static var photos: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: TestPaths.faces.path)) ?? []
        return names.filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") || $0.hasSuffix(".webp") }.sorted()
            .map { TestPaths.faces.appendingPathComponent($0).path }
    }

    /// Converts `source` at `precision` and embeds every photo: [photo][value].
    static func embeddings(_ source: String, _ precision: WeightPrecision, in dir: TempDir, extra: [String] = []) throws -> [[Float]] {
        let model = dir.path("\(precision.rawValue).fgraph"), out = dir.path("\(precision.rawValue).npy")
        let c = try facec(["convert", source, "-o", model, "--weights", precision.rawValue, "--quiet"] + extra)
        try #require(c.status == 0, "\(c.stderr)")
        let r = try facec(["run", model] + photos + ["--npy", out])
        try #require(r.status == 0, "\(r.stderr)")
        let npy = try NPYFile.read(out)
        let d = npy.shape[1]
        return (0..<npy.shape[0]).map { Array(npy.values[($0 * d)..<(($0 + 1) * d)]) }
    }

    @Test(arguments: ["deepid", "vgg"])
    func reducedModelsStayCloseToFloat32OnEveryPhoto(_ net: String) throws {
        let source = net == "deepid" ? TestPaths.demoWeights : TestPaths.fixture("vgg/vgg_oxford_v7.mat")
        let dir = TempDir()
        let f32 = try Self.embeddings(source, .f32, in: dir)
        #expect(f32.count == Self.photos.count && f32.count >= 60)
        let f16 = try Self.embeddings(source, .f16, in: dir)
        for (i, (a, b)) in zip(f32, f16).enumerated() {
            #expect(relativeError(b, a) <= 1e-3, "\(net) f16 \(Self.photos[i]): \(relativeError(b, a))")
        }
        let int8 = try Self.embeddings(source, .int8, in: dir)
        for (i, (a, b)) in zip(f32, int8).enumerated() {
            #expect(cosineSimilarity(a, b) >= 0.999, "\(net) int8 \(Self.photos[i]): cosine \(cosineSimilarity(a, b))")
        }
    }

    @Test func int8VerdictsMatchFloat32OnMasterPairs() throws {
        let dir = TempDir()
        var verdicts: [[Substring]] = []
        for precision in ["f32", "int8"] {
            let model = dir.path(precision + ".fgraph"), out = dir.path(precision + ".csv")
            #expect(try facec(["convert", TestPaths.demoWeights, "-o", model, "--weights", precision, "--quiet"]).status == 0)
            let r = try facec(["verify", model, "--pairs", TestPaths.faces.appendingPathComponent("master.csv").path, "-o", out])
            try #require(r.status == 0, "\(r.stderr)")
            let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").dropFirst()
            verdicts.append(rows.map { $0.split(separator: ",")[4] })
        }
        #expect(verdicts[0].count == 300 && verdicts[1].count == 300)
        let same = zip(verdicts[0], verdicts[1]).filter { $0 == $1 }.count
        #expect(Double(same) / 300 >= 0.99, "\(same) of 300 verdicts unchanged")
    }
}

/// Trained layers' channels differ in magnitude far more than random
/// initialisation's: here every output channel of every layer is rescaled
/// by 10^u, u uniform in -1...1 (two orders of magnitude), before int8
/// conversion. Per-channel scales make each channel's error relative to its
/// own magnitude, so the embedding must stay as close as without the spread.
@Suite struct Int8ChannelSpreadTests {
    static func spread(_ graph: Graph, seed: UInt64) throws -> Graph {
        var g = graph
        var rng = KernelTests.Rng(state: seed)
        for l in g.layers.indices where !g.layers[l].weights.isEmpty {
            let kernel = g.layers[l].weights[0], cout = kernel.shape.last!
            let factors = (0..<cout).map { _ in powf(10, rng.next()) }
            var k = try kernel.load()
            for i in k.indices { k[i] *= factors[i % cout] }
            g.layers[l].weights[0] = WeightTensor(name: kernel.name, shape: kernel.shape, values: k)
            if g.layers[l].weights.count > 1 {
                let b = g.layers[l].weights[1]
                var v = try b.load()
                for i in v.indices { v[i] *= factors[i] }
                g.layers[l].weights[1] = WeightTensor(name: b.name, shape: b.shape, values: v)
            }
        }
        return g
    }

    @Test func perChannelScalesAbsorbTwoOrdersOfMagnitude() throws {
        let dir = TempDir()
        let (graph, description) = try ModelImporter.load(path: TestPaths.fixture("deepid_keras22.h5"))
        let spread = try Self.spread(graph, seed: 7)
        var errors: [ElementType: [Float]] = [:]
        var outputs: [WeightPrecision: [[Float]]] = [:]
        let inputs = try NPYFile.read(TestPaths.fixture("deepid_inputs.npy"))
        for precision in [WeightPrecision.f32, .int8] {
            var options = CompileOptions()
            options.weights = precision
            options.errorBudget = precision == .int8 ? 1 : nil   // every layer int8: the spread's worst case
            let compiled = try Compiler.compile(spread, description, options: options)
            let path = dir.path("\(precision.rawValue).fgraph")
            try ModelWriter.write(header: compiled.header, producers: compiled.producers, to: path)
            let model = try Model(path: path)
            for n in model.header.nodes where !n.params.isEmpty {
                errors[model.header.tensors[n.params[0]].elementType, default: []].append(n.weightError)
            }
            outputs[precision] = try embedAll(model, inputs)
        }
        #expect(errors[.i8]?.count == 6)
        #expect((errors[.i8] ?? [1]).allSatisfy { $0 < 0.01 }, "per-layer int8 weight errors \(errors[.i8] ?? [])")
        for (a, b) in zip(outputs[.f32]!, outputs[.int8]!) {
            #expect(cosineSimilarity(a, b) >= 0.999, "cosine \(cosineSimilarity(a, b))")
        }
    }
}
