import Foundation
import FacecCore
import Testing
import FacecFormat
import FacecGraph
@testable import FacecImporters

/// dlib's face recognition ResNet file (scripts/fetch-weights.sh dlib puts it
/// in ~/.cache/facec-weights; FACEC_DLIB_WEIGHTS overrides). The tests that
/// need it fail, saying how to fetch it, when it is missing: the real weights
/// are part of what is tested, not optional.
enum DlibWeights {
    static var path: String {
        if let p = ProcessInfo.processInfo.environment["FACEC_DLIB_WEIGHTS"] { return p }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/facec-weights/dlib_face_recognition_resnet_model_v1.dat").path
    }

    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(FileManager.default.fileExists(atPath: path),
                     "\(path) is missing: run scripts/fetch-weights.sh dlib (scripts/setup.sh does)", sourceLocation: sourceLocation)
        return path
    }

    /// dlib's anet_type (dnn_face_recognition_ex.cpp) as DlibTestWriter layers.
    static func resnetLayers() -> [DlibTestWriter.Layer] {
        var layers: [DlibTestWriter.Layer] = [.con(filters: 32, inChannels: 3, kernel: 7, stride: 2), .affine(channels: 32), .relu,
                                              .maxPool(window: 3, stride: 2)]
        var channels = 32
        for (width, blocks) in [(32, 3), (64, 4), (128, 3), (256, 3), (256, 1)] {
            for i in 0..<blocks {
                let down = width != 32 && i == 0
                layers += [.tag, .con(filters: width, inChannels: channels, kernel: 3, stride: down ? 2 : 1), .affine(channels: width), .relu,
                           .con(filters: width, inChannels: width, kernel: 3, stride: 1), .affine(channels: width)]
                if down { layers += [.tag, .tag, .avgPool(window: 2, stride: 2)] }
                layers += [.addPrev, .relu]
                channels = width
            }
        }
        return layers + [.avgPool(window: 0, stride: 1), .fc(outputs: 128, inputs: 256)]
    }
}

@Suite struct DlibImporterTests {
    func importBytes(_ bytes: [UInt8], in dir: TempDir, name: String = "net.dat") throws -> (Graph, ModelDescription) {
        let path = dir.path(name)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return try ModelImporter.load(path: path)
    }

    func refusal(_ bytes: [UInt8], in dir: TempDir) -> String {
        do {
            _ = try importBytes(bytes, in: dir)
            return "accepted"
        } catch let e as FacecError {
            return e.reason
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    @Test func theRealFileIsTheFaceResNet() throws {
        let (graph, d) = try ModelImporter.load(path: try DlibWeights.require())
        #expect(d.name == "Dlib")
        #expect(d.thresholds == [.cosine: 0.07, .euclidean: 0.6, .euclideanL2: 0.4])
        #expect(d.input.height == 150 && d.input.width == 150 && d.input.colorOrder == .rgb && d.input.truncateToUInt8)
        // dlib's means, exactly as the file stores them (float_details), over 256.
        #expect(d.input.mean == [Float(122.782) / 256, Float(117.001) / 256, Float(104.298) / 256])
        #expect(graph.layers.filter { if case .conv2d = $0.op { return true } else { return false } }.count == 29)
    }

    @Test func aWrittenNetworkOfTheSameArchitectureConverts() throws {
        let dir = TempDir()
        let (graph, d) = try importBytes(DlibTestWriter.network(DlibWeights.resnetLayers()), in: dir)
        let compiled = try Compiler.compile(graph, d)
        #expect(compiled.header.output.dim == 128)
        #expect(compiled.header.nodes.filter { $0.kernel == .add }.count == 14)
    }

    /// Other networks are refused at their first difference, named.
    @Test func otherArchitecturesAreRefusedNamingTheDifference() {
        let dir = TempDir()
        var layers = DlibWeights.resnetLayers()
        layers[0] = .con(filters: 16, inChannels: 3, kernel: 7, stride: 2)
        #expect(refusal(DlibTestWriter.network(layers), in: dir).contains("expected con 32 7×7/2 padding 0 of dlib's face recognition ResNet, found con 16 7×7/2"))
        layers = DlibWeights.resnetLayers()
        layers.remove(at: 2)   // the stem's relu
        let missingRelu = refusal(DlibTestWriter.network(layers), in: dir)
        #expect(missingRelu.contains("layer 3 of ") && missingRelu.contains("(input side first): expected relu"), "\(missingRelu)")
        layers = DlibWeights.resnetLayers()
        layers.removeLast()
        #expect(refusal(DlibTestWriter.network(layers), in: dir).contains("the network ends after"))
        layers = DlibWeights.resnetLayers() + [.relu]
        #expect(refusal(DlibTestWriter.network(layers), in: dir).contains("1 layers more than"))
        #expect(refusal(DlibTestWriter.network(DlibWeights.resnetLayers(), input: 112), in: dir).contains("the input is 112×112"))
    }

    @Test func otherDlibFilesAreRefusedByName() throws {
        let dir = TempDir()
        let mmod = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("dlib/mmod_human_face_detector.head.dat"))))
        #expect(refusal(mmod, in: dir).contains("dlib object detector (loss layer 'loss_mmod_'"))
        let landmarks = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("dlib/shape_predictor_5_face_landmarks.head.dat"))))
        #expect(refusal(landmarks, in: dir).contains("dlib shape predictor"))
        let stem: [DlibTestWriter.Layer] = [.con(filters: 32, inChannels: 3, kernel: 7, stride: 2), .affine(channels: 32), .relu]
        #expect(refusal(DlibTestWriter.network(stem, loss: "loss_multiclass_log_"), in: dir).contains("loss layer 'loss_multiclass_log_'"))
        #expect(refusal(DlibTestWriter.network(stem, inputName: "input_rgb_image"), in: dir).contains("input layer is 'input_rgb_image'"))
        #expect(refusal(DlibTestWriter.network(stem + [.other("bn_con2")]), in: dir).contains("training network"))
        #expect(refusal(DlibTestWriter.network(stem + [.other("prelu_")]), in: dir).contains("the layer 'prelu_'"))
    }

    /// Every cut of the real file is refused with a reason, never a crash.
    @Test func truncatedFilesAreRefused() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try DlibWeights.require())))
        let dir = TempDir()
        var cuts = Array(0..<300) + [bytes.count - 1, bytes.count - 2, bytes.count - 100]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<60 { cuts.append(Int.random(in: 300..<bytes.count, using: &rng)) }
        for cut in cuts {
            let reason = refusal(Array(bytes[..<cut]), in: dir)
            #expect(reason != "accepted" && !reason.hasPrefix("unexpected"), "cut at \(cut): \(reason)")
        }
        #expect(refusal(bytes + [0], in: dir).contains("1 bytes follow the network"))
    }

    /// Single bit flips anywhere: refused with a reason, or (in weight
    /// values) accepted; never a crash or a huge allocation.
    @Test func bitFlipsAreRefusedOrHarmless() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try DlibWeights.require())))
        let dir = TempDir()
        var rng = SystemRandomNumberGenerator()
        var refused = 0
        for k in 0..<120 {
            var flipped = bytes
            let at = k < 80 ? Int.random(in: 0..<4096, using: &rng) : Int.random(in: 0..<bytes.count, using: &rng)
            flipped[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            let reason = refusal(flipped, in: dir)
            #expect(!reason.hasPrefix("unexpected"), "flip at \(at): \(reason)")
            if reason != "accepted" { refused += 1 }
        }
        #expect(refused > 0)
    }

    @Test func hugeCountsAndNonFiniteWeightsAreRefused() {
        let dir = TempDir()
        var w = DlibTestWriter()
        w.int(1); w.string("loss_metric_"); w.int(3); w.string("input_rgb_image_sized")
        for m: Float in [122.782, 117.001, 104.298] { w.float(m) }
        w.int(150); w.int(150); w.string("con_4")
        w.int(2); for d in [Int64(1) << 40, 1 << 20, 1, 1] { w.int(d) }
        #expect(refusal(w.bytes, in: dir).contains("claims 1099511627776×1048576×1×1 values"))

        var stem = DlibTestWriter.network([.con(filters: 32, inChannels: 3, kernel: 7, stride: 2), .affine(channels: 32)])
        let at = stem.indices.first { stem[$0...].starts(with: Array("con_4".utf8)) }! + 5 + 11 + 8   // the third weight
        stem.replaceSubrange(at..<(at + 4), with: [0, 0, 0xC0, 0x7F])   // a NaN
        #expect(refusal(stem, in: dir).contains("not finite"))
    }

    /// The CLI: every kind of bad .dat gives one line naming the file and the
    /// fault, a non-zero status, and no output file.
    @Test func convertRefusesBadDatFilesInOneLineWritingNothing() throws {
        let dir = TempDir()
        var truncated = DlibTestWriter.network(DlibWeights.resnetLayers())
        truncated.removeLast(1000)
        var flipped = DlibTestWriter.network(DlibWeights.resnetLayers())
        flipped[3] ^= 0x40                      // the loss layer's name length: 13 -> 77
        var huge = DlibTestWriter()
        huge.int(1); huge.string("loss_metric_"); huge.int(3); huge.string("input_rgb_image_sized")
        for m: Float in [122.782, 117.001, 104.298] { huge.float(m) }
        huge.int(150); huge.int(150); huge.string("con_4"); huge.int(2)
        for d in [Int64(1) << 40, 1 << 20, 1, 1] { huge.int(d) }
        var wrong = DlibWeights.resnetLayers()
        wrong[0] = .con(filters: 16, inChannels: 3, kernel: 7, stride: 2)
        let mmod = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("dlib/mmod_human_face_detector.head.dat"))))
        let cases: [(String, [UInt8], String)] = [
            ("cut.dat", truncated, "dlib file: fc parameters claims 256×128×1×1 values"),
            ("flipped.dat", flipped, "dlib file: "),
            ("huge.dat", huge.bytes, "claims 1099511627776×1048576×1×1 values"),
            ("wrong.dat", DlibTestWriter.network(wrong), "expected con 32 7×7/2 padding 0"),
            ("detector.dat", mmod, "dlib object detector"),
        ]
        for (name, bytes, message) in cases {
            let bad = dir.path(name)
            FileManager.default.createFile(atPath: bad, contents: Data(bytes))
            let r = try facec(["convert", bad, "-o", dir.path("out.fgraph")])
            expectFailure(r, mentioning: "\(name): ")
            expectFailure(r, mentioning: message)
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.fgraph")), "\(name)")
        }
        #expect(dir.files == cases.map(\.0).sorted())
    }
}
