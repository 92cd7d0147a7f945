import Foundation
import Testing
import FacecFormat
import FacecGraph
import FacecImporters
import FacecRuntime
import FacecPipeline

/// VGG-Face at reduced width (same 224×224 structure) from every MatConvNet
/// layout × MAT version and from Keras .h5, against TensorFlow references
/// computed from the same weights (scripts/fixtures/generate_vggface.py).
@Suite struct VGGFaceTests {
    static let variants = [
        "vgg_oxford_v6.mat", "vgg_oxford_v7.mat", "vgg_oxford_v73.mat", "vgg_oxford_v73_hdf5storage.mat",
        "vgg_tidy_v6.mat", "vgg_tidy_v7.mat", "vgg_tidy_v73.mat",
        "vgg_typed_v7.mat", "vgg_typed_v73.mat",
        "vgg_structarray_v7.mat", "vgg_structarray_v73.mat", "vgg_structarray_v73_hdf5storage.mat",
        "vgg_old_fields_v7.mat", "vgg_octave_v7.mat", "vgg_narrow_pad.mat",
        "vgg_keras_auto.h5", "vgg_keras_named.h5",
    ]

    static func vgg(_ name: String) -> String { TestPaths.fixture("vgg/" + name) }

    func outputs(_ file: String, _ descriptor: VGGDescriptor, _ options: CompileOptions) throws -> (Model, [[Float]]) {
        let model = try VGGConversions.model(Self.vgg(file), descriptor, options)
        return (model, try embedAll(model, try NPYFile.read(Self.vgg("vgg_inputs.npy"))))
    }

    static let strategies = [CompileOptions.direct, CompileOptions()]
    static let cases: [(String, VGGDescriptor)] = variants.flatMap { f in [(f, VGGDescriptor.fc7), (f, .fc8)] }

    /// Every variant, both descriptors, both kernel strategies, against the
    /// float32 TensorFlow output and the float64 one (the truth): ≤ 1e-5 per
    /// embedding (measured: direct ~8e-7, Winograd ~1.4e-6).
    @Test(arguments: cases)
    func matchesTensorFlow(_ file: String, _ descriptor: VGGDescriptor) throws {
        let name = descriptor.rawValue
        let references = [try NPYFile.read(Self.vgg("vgg_\(name)_expected.npy")), try NPYFile.read(Self.vgg("vgg_\(name)_expected_f64.npy"))]
        let d = references[0].shape[1]
        for options in Self.strategies {
            let (model, outs) = try outputs(file, descriptor, options)
            #expect(model.header.output.dim == d && model.header.output.name == name)
            #expect(model.header.output.l2Normalize == (descriptor == .fc7))
            for (k, out) in outs.enumerated() {
                for (r, expected) in references.enumerated() {
                    let err = relativeError(out, Array(expected.values[(k * d)..<((k + 1) * d)]))
                    #expect(err <= 1e-5, "\(file) \(descriptor) winograd=\(options.winograd) input \(k) ref \(r == 0 ? "f32" : "f64"): relative error \(err)")
                }
            }
        }
    }

    /// The .mat and .h5 forms of the same weights agree with each other.
    @Test func layoutsAgreeWithEachOther() throws {
        for descriptor in [VGGDescriptor.fc7, .fc8] {
            let (_, reference) = try outputs("vgg_tidy_v7.mat", descriptor, .direct)
            for file in Self.variants where file != "vgg_tidy_v7.mat" {
                let (_, outs) = try outputs(file, descriptor, .direct)
                for k in outs.indices { #expect(relativeError(outs[k], reference[k]) <= 1e-5, "\(file) \(descriptor) vs vgg_tidy_v7.mat") }
            }
        }
    }

    /// Each MAT v7.3 file (two writers: MatV73Writer, MATLAB's layout via
    /// h5py, and hdf5storage) against its Level-5 twin read by MatV5File: the
    /// same compiled plan, the same weights and the same embeddings, bit for bit.
    static let v73Twins = [
        ("vgg_oxford_v73.mat", "vgg_oxford_v7.mat"), ("vgg_oxford_v73_hdf5storage.mat", "vgg_oxford_v7.mat"),
        ("vgg_tidy_v73.mat", "vgg_tidy_v7.mat"), ("vgg_typed_v73.mat", "vgg_typed_v7.mat"),
        ("vgg_structarray_v73.mat", "vgg_structarray_v7.mat"), ("vgg_structarray_v73_hdf5storage.mat", "vgg_structarray_v7.mat"),
    ]

    @Test(arguments: v73Twins)
    func v73MatchesItsTwinBitForBit(_ pair: (String, String)) throws {
        for descriptor in [VGGDescriptor.fc7, .fc8] {
            for options in Self.strategies {
                let (a, outA) = try outputs(pair.0, descriptor, options)
                let (b, outB) = try outputs(pair.1, descriptor, options)
                #expect(a.header.provenance.sourceFormat.contains("MAT v7.3 (HDF5)"))
                var header = a.header
                header.provenance = b.header.provenance
                #expect(header == b.header, "\(pair.0) vs \(pair.1): plans differ")
                for i in a.header.tensors.indices {
                    #expect(a.file.tensor(i).elementsEqual(b.file.tensor(i)) { $0.bitPattern == $1.bitPattern },
                            "\(pair.0) vs \(pair.1): tensor \(a.header.tensors[i].name) differs")
                }
                #expect(outA.map { $0.map(\.bitPattern) } == outB.map { $0.map(\.bitPattern) }, "\(pair.0) vs \(pair.1): embeddings differ")
            }
        }
    }

    /// Class names (2622, one non-ASCII, in UTF-8, UTF-16 and UINT16 storage)
    /// and softmax probabilities, compiled only when the file has names.
    @Test(arguments: ["vgg_oxford_v7.mat", "vgg_tidy_v73.mat", "vgg_oxford_v73_hdf5storage.mat", "vgg_octave_v7.mat", "vgg_narrow_pad.mat"])
    func classesAndProbabilities(_ file: String) throws {
        let model = try VGGConversions.model(Self.vgg(file), ImportOptions().descriptor, CompileOptions())
        let h = model.header
        #expect(h.classNames.count == 2622)
        #expect(h.classNames[0] == "Person_0001 Name" && h.classNames[1000] == "José Ñúñez")
        let probs = try NPYFile.read(Self.vgg("vgg_prob_expected.npy"))
        let inputs = try NPYFile.read(Self.vgg("vgg_inputs.npy"))
        let instance = model.makeInstance()
        let per = inputs.values.count / inputs.shape[0]
        for k in 0..<inputs.shape[0] {
            _ = try instance.embed(Array(inputs.values[(k * per)..<((k + 1) * per)]))
            let p = try #require(instance.classProbabilities())
            let ref = Array(probs.values[(k * 2622)..<((k + 1) * 2622)])
            #expect(relativeError(p, ref) <= 1e-4)
            #expect(p.indices.max { p[$0] < p[$1] } == ref.indices.max { ref[$0] < ref[$1] })
        }
    }

    @Test func inputSpecsFollowTheSource() throws {
        let dir = TempDir()
        let mat = try convertAndLoad(Self.vgg("vgg_oxford_v7.mat"), to: dir).header
        #expect(mat.input.colorOrder == .rgb && mat.input.scale == 1 && mat.input.resize == .stretch)
        #expect(mat.input.height == 224 && mat.input.width == 224)
        #expect(zip(mat.input.mean, [129.1863, 104.7624, 93.5940]).allSatisfy { abs(Double($0) - $1) < 1e-3 })
        #expect(mat.thresholds[.cosine] == 0.68 && mat.thresholds[.euclideanL2] == 1.17)
        let keras = try convertAndLoad(Self.vgg("vgg_keras_auto.h5"), to: dir, import: ImportOptions(descriptor: .fc8)).header
        #expect(keras.input.colorOrder == .bgr && abs(keras.input.scale - 1 / 255) < 1e-9 && keras.input.resize == .keepAspectPad)
        #expect(keras.thresholds[.cosine] == 0.40 && keras.thresholds[.euclidean] == 0.60 && keras.thresholds[.euclideanL2] == 0.86)
        #expect(keras.classNames.isEmpty && keras.classesValue == nil)
        let caffe = try convertAndLoad(Self.vgg("vgg_keras_auto.h5"), to: dir, import: ImportOptions(normalization: .vggface)).header
        #expect(caffe.input.scale == 1 && caffe.input.mean == [93.5940, 104.7624, 129.1863])
    }

    @Test func fusedPlanAndSmallArena() throws {
        let dir = TempDir()
        let h = try convertAndLoad(Self.vgg("vgg_tidy_v6.mat"), to: dir).header
        // No separate pad/relu/dropout nodes; fc6..fc8 are dense; convs carry their padding.
        #expect(!h.nodes.contains { $0.kernel == .relu || $0.kernel == .zeroPad })
        #expect(h.nodes.filter { $0.kernel == .dense }.count == 3)
        #expect(h.nodes.first?.padTop == 1 && h.nodes.first?.activation == .relu)
        #expect(h.arenaBytes * 2 < h.activationsTotalBytes)
    }

    @Test(arguments: [
        ("bad_truncated.mat", "truncated"),
        ("bad_wrong_variable.mat", "no 'net' or 'layers' variable"),
        ("bad_missing_field.mat", "layer 3 'conv1_2' (conv): missing field 'weights'"),
        ("bad_unknown_layer.mat", "layer 4 'norm1' (lrn): unsupported layer type 'lrn'"),
        ("bad_2d_filter.mat", "layer 1 'conv1_1' (conv): filters are 2-D"),
        // MAT v7.3 (generate_mat_v73.py)
        ("bad_v73_truncated.mat", "truncated file: the superblock says"),
        ("bad_v73_missing_object.mat", "layers{1}.weights{1}: refers to a missing object"),
        ("bad_v73_ref_beyond_eof.mat", "layers{1}.weights{1}: refers to address 0x10000000000, beyond the end of the file"),
        ("bad_v73_cycle.mat", "layers{1}.weights{1}: refers back to an array that contains it (a reference cycle)"),
        ("bad_v73_shape_mismatch.mat", "layers{1}.weights{1}: declares 2×3×3×4 elements (288 bytes) but stores 216 bytes"),
        ("bad_v73_missing_chunks.mat", "layers{3}.weights{1}: declares 2×2×3×4 elements but stores 1 of the 2 chunks"),
        ("bad_v73_huge.mat", "meta.normalization.averageImage: has 1099511627776 elements"),
        ("bad_v73_wrong_class.mat", "layers{1}.weights{1}: has MATLAB_class 'cell' but holds floating-point numbers"),
        ("bad_v73_empty_with_elements.mat", "layers{3}.pad: is marked empty (MATLAB_empty) but its dimensions [1, 4] hold elements"),
        ("bad_v73_external_link.mat", "layers{1}.weights: is a link into another file, which facec does not follow"),
        ("bad_v73_external_data.mat", "layers{1}.weights{1}: keeps its data in an external file"),
    ])
    func malformedFilesFailClearly(_ c: (String, String)) throws {
        let dir = TempDir()
        let r = try facec(["convert", Self.vgg(c.0), "-o", dir.path("out.fgraph")])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("facec: ") && r.stderr.contains(c.0) && r.stderr.contains(c.1), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(dir.files.isEmpty)
    }
}

/// Conversions shared by the VGG tests, each (file, descriptor, strategy)
/// converted once per test run.
enum VGGConversions {
    private final class Entry: @unchecked Sendable {
        let lock = NSLock()
        var model: Model?
    }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var entries: [String: Entry] = [:]

    static func model(_ path: String, _ descriptor: VGGDescriptor, _ options: CompileOptions) throws -> Model {
        let key = "\(path)|\(descriptor.rawValue)|winograd=\(options.winograd)"
        let entry = lock.withLock {
            if let e = entries[key] { return e }
            let e = Entry()
            entries[key] = e
            return e
        }
        entry.lock.lock()
        defer { entry.lock.unlock() }
        if let m = entry.model { return m }
        // The file is removed with its directory; the loaded model keeps its mapping.
        let dir = TempDir()
        let m = try convertAndLoad(path, to: dir, import: ImportOptions(descriptor: descriptor), options: options)
        entry.model = m
        return m
    }
}
