import Foundation
import Testing
@testable import FacecFormat
import FacecImporters
import FacecRuntime
import FacecPipeline
import FacecGraph

/// Converted models against TensorFlow/Keras outputs computed from the same
/// files (scripts/fixtures/generate_deepid.py): relative error <= 1e-5.
@Suite struct ConversionTests {
    static let cases: [(file: String, inputs: String, expected: String)] = [
        ("deepid-random.h5", "deepid_inputs.npy", "deepid_expected.npy"),        // tf-keras save_weights
        ("deepid_keras22.h5", "deepid_inputs.npy", "deepid_expected.npy"),       // Keras 2.2 layout, fixed-length strings
        ("deepid_full_tfkeras.h5", "deepid_inputs.npy", "deepid_expected.npy"),  // model.save, Functional config
        ("small_seq_tfkeras.h5", "small_seq_inputs.npy", "small_seq_tfkeras_expected.npy"),
        ("small_seq_keras3.h5", "small_seq_inputs.npy", "small_seq_keras3_expected.npy"),
        ("small_func_keras3.h5", "small_func_keras3_inputs.npy", "small_func_keras3_expected.npy"),
    ]

    @Test(arguments: cases.indices, [true, false])
    func matchesTensorFlow(_ index: Int, winograd: Bool) throws {
        let c = Self.cases[index]
        let dir = TempDir()
        let source = c.file == "deepid-random.h5" ? TestPaths.demoWeights : TestPaths.fixture(c.file)
        let model = try convertAndLoad(source, to: dir, options: winograd ? CompileOptions() : .direct)
        let inputs = try NPYFile.read(TestPaths.fixture(c.inputs))
        let expected = try NPYFile.read(TestPaths.fixture(c.expected))
        let outputs = try embedAll(model, inputs)
        let d = expected.shape[1]
        for (k, out) in outputs.enumerated() {
            let ref = Array(expected.values[(k * d)..<((k + 1) * d)])
            let err = relativeError(out, ref)
            #expect(err <= 1e-5, "\(c.file) input \(k) (winograd \(winograd)): relative error \(err)")
        }
    }

    @Test func deepIDIsDetectedAndDescribed() throws {
        let dir = TempDir()
        let h = try convertAndLoad(TestPaths.fixture("deepid_keras22.h5"), to: dir).header
        #expect(h.modelName == "DeepID")
        #expect(h.input.height == 55 && h.input.width == 47 && h.input.colorOrder == .bgr && h.input.resize == .keepAspectPad)
        #expect(abs(h.input.scale - 1 / 255) < 1e-9)
        #expect(h.output.name == "deepid" && h.output.dim == 160 && !h.output.l2Normalize)
        #expect(h.thresholds[.cosine] == 0.015 && h.thresholds[.euclidean] == 45 && h.thresholds[.euclideanL2] == 0.17)
        #expect(h.provenance.sourceFile == "deepid_keras22.h5" && h.provenance.sourceSHA256.count == 32)
    }

    @Test func compiledPlanFoldsFusesAndSharesMemory() throws {
        let dir = TempDir()
        let h = try convertAndLoad(TestPaths.fixture("small_seq_tfkeras.h5"), to: dir).header
        // No dropout, no zero-padding node, no separate ReLU node, flatten is a view.
        #expect(!h.nodes.contains { $0.kernel == .zeroPad || $0.kernel == .relu })
        let first = try #require(h.nodes.first)
        #expect(first.kernel == .conv2dDirect && first.fused.contains { $0.hasPrefix("zero padding") })
        #expect(first.padTop == 1 + 0 && first.padBottom >= 2)   // ZeroPadding2D ((1,2),(0,1)) + SAME
        #expect(h.nodes.contains { $0.fused.contains { $0.hasPrefix("relu") } })
        #expect(h.values.contains { $0.isView })
        #expect(h.arenaBytes < h.activationsTotalBytes)

        let deepid = try convertAndLoad(TestPaths.demoWeights, to: dir).header
        #expect(deepid.nodes.map(\.kernel) == [.conv2dDirect, .maxPool, .conv2dWinogradF43, .maxPool, .conv2dWinogradF43, .maxPool, .conv2dDirect, .dense, .dense, .add])
        #expect(deepid.nodes.last?.activation == .relu)   // Add + ReLU fused
        #expect(deepid.arenaBytes < deepid.activationsTotalBytes)
        #expect(deepid.totalFlops == 15_887_040 || deepid.totalFlops > 15_000_000)
    }

    @Test func memoryPlanNeverOverlapsLiveValues() throws {
        let dir = TempDir()
        for file in ["deepid_full_tfkeras.h5", "small_func_keras3.h5", "small_seq_keras3.h5"] {
            let h = try convertAndLoad(TestPaths.fixture(file), to: dir).header
            // A value is live from the node writing it to the last node reading it.
            var first = [Int](repeating: -1, count: h.values.count), last = [Int](repeating: -1, count: h.values.count)
            for (step, n) in h.nodes.enumerated() {
                first[n.output] = step
                for i in n.inputs { last[i] = max(last[i], step) }
            }
            last[h.outputValue] = Int.max
            for a in h.values.indices where !h.values[a].isView && first[a] >= 0 {
                for b in h.values.indices where b != a && !h.values[b].isView && first[b] >= 0 {
                    let timeOverlap = first[a] <= max(last[b], first[b]) && first[b] <= max(last[a], first[a])
                    let va = h.values[a], vb = h.values[b]
                    let spaceOverlap = va.arenaOffset < vb.arenaOffset + vb.arenaBytes && vb.arenaOffset < va.arenaOffset + va.arenaBytes
                    #expect(!(timeOverlap && spaceOverlap), "\(file): \(va.name) and \(vb.name) share memory while both live")
                }
            }
        }
    }

    @Test func keras3WeightsFileIsRefusedWithExplanation() throws {
        #expect {
            _ = try KerasImporter.load(path: TestPaths.fixture("small.weights.h5"))
        } throws: { error in
            "\(error)".contains("Keras 3 '.weights.h5'") && "\(error)".contains("small.weights.h5")
        }
    }

    @Test func forcedArchitectureReportsShapeMismatch() throws {
        #expect {
            _ = try KerasImporter.load(path: TestPaths.fixture("small_seq_tfkeras.h5"), architecture: "deepid")
        } throws: { "\($0)".contains("DeepID has 6 weighted layers") }
    }
}
