import FacecCLI
import FacecCore
import FacecFormat
import FacecKernels
import FacecGraph
import FacecImporters

enum KernelStrategy: String, CaseIterable { case auto, direct }
enum DetectorChoice: String, CaseIterable { case none, opencv, mtcnn }

struct ConvertCommand: Command {
    static let spec = CommandSpec(
        name: "convert",
        abstract: "Convert Keras .h5, MatConvNet .mat or dlib .dat weights into a compiled .fgraph model (written atomically).",
        arguments: [.one("input", help: "The weight file (.h5, .mat or dlib .dat).")],
        options: [
            .option(.output, short: "o", help: "Output file (default: INPUT's base name with .fgraph, in the current directory)."),
            .option(.arch, help: "Built-in architecture for weights-only files (\(KerasImporter.builtInArchitectures.joined(separator: ", "))); default: detected from the weight shapes."),
            .option(.embedding, help: "VGG-Face embedding: fc7 (4096-d after ReLU, L2-normalised; deepface; the default) or fc8 (2622-d before softmax)."),
            .option(.normalization, help: "VGG-Face from Keras: deepface input normalisation, base (BGR /255; the default) or vggface (BGR 0..255 minus the Caffe mean)."),
            .option(.kernels, help: "Kernel strategy: auto (the default: Winograd F(4x4,3x3) for 3x3 stride-1 convolutions with >= 16 input channels) or direct (every convolution direct, the most exact)."),
            .option(.weights, help: "Weight storage: f32 (the default), f16 (IEEE half, about half the size; arithmetic stays float32) or int8 (symmetric per output channel, about a quarter; layers stay f16 where needed to keep the error budget). Reduced precision runs every convolution direct; on CPUs with AVX-512 VNNI, int8 convolutions also quantise their input activations to 8 bits."),
            .option(.errorBudget, help: "With --weights f16|int8: the estimated relative output error the reduced weights may cost (root sum of squares of the layers' measured weight errors); layers are kept at higher precision, smallest cost first, until the estimate is within it. Default: 0.0007 for f16, 0.035 for int8 (less for outputs of under 64 values)."),
            .option(.detector, help: "Face detector to compile into the model, so that 'facec run' takes whole photos: none (the default), opencv (deepface's default: OpenCV's Haar cascades, with eye alignment) or mtcnn (deepface's mtcnn backend: PyPI mtcnn 1.0.0's P-, R- and O-Net, finds more turned and small faces)."),
            .option(.faceCascade, help: "With --detector opencv: the frontal-face cascade XML (default: \(OpenCVCascade.debianDirectory)/\(OpenCVCascade.faceFile))."),
            .option(.eyeCascade, help: "With --detector opencv: the eye cascade XML (default: \(OpenCVCascade.debianDirectory)/\(OpenCVCascade.eyeFile))."),
            .option(.mtcnnWeights, help: "With --detector mtcnn: the folder holding mtcnn 1.0.0's pnet.lz4, rnet.lz4 and onet.lz4 (default: \(MTCNNWeights.defaultDirectory), where scripts/fetch-weights.sh mtcnn puts them)."),
            .flag(.quiet, help: "Print nothing on success."),
        ])

    let input: String
    let output, arch: String?
    let embedding: VGGDescriptor
    let normalization: DeepfaceNormalization
    let kernels: KernelStrategy
    let weights: WeightPrecision
    let errorBudget: Double?
    let detector: DetectorChoice
    let faceCascade, eyeCascade, mtcnnWeights: String?
    let quiet: Bool

    init(_ a: ParsedArguments) throws {
        input = a.argument("input")
        output = a.string(.output)
        arch = a.string(.arch)
        embedding = try a.choice(.embedding, VGGDescriptor.self) ?? .fc7
        normalization = try a.choice(.normalization, DeepfaceNormalization.self) ?? .base
        kernels = try a.choice(.kernels, KernelStrategy.self) ?? .auto
        weights = try a.choice(.weights, WeightPrecision.self) ?? .f32
        errorBudget = try a.double(.errorBudget)
        if let b = errorBudget {
            guard b.isFinite, b >= 0 else { throw FacecError(.usage, "", "--error-budget must be a number >= 0") }
            guard weights != .f32 else { throw FacecError(.usage, "", "--error-budget goes with --weights f16 or int8") }
        }
        detector = try a.choice(.detector, DetectorChoice.self) ?? .none
        faceCascade = a.string(.faceCascade)
        eyeCascade = a.string(.eyeCascade)
        mtcnnWeights = a.string(.mtcnnWeights)
        quiet = a.flag(.quiet)
        if detector != .opencv && (faceCascade != nil || eyeCascade != nil) {
            throw FacecError(.usage, "", "--face-cascade and --eye-cascade go with --detector opencv")
        }
        if detector != .mtcnn && mtcnnWeights != nil {
            throw FacecError(.usage, "", "--mtcnn-weights goes with --detector mtcnn")
        }
    }

    func run() throws {
        let out = output ?? Self.defaultOutput(for: input)
        // Checked before any work: never the source or a cascade, never a device.
        let mtcnnFiles = detector == .mtcnn ? MTCNNWeights.files.map { (mtcnnWeights ?? MTCNNWeights.defaultDirectory) + "/" + $0 } : []
        let target = try ModelWriter.checkedOutput(out, inputs: [input] + [faceCascade, eyeCascade].compactMap { $0 } + mtcnnFiles)
        CrashGuard.arm(input: input)
        let options = ImportOptions(architecture: arch, descriptor: embedding, normalization: normalization)
        // The cascades first: a bad one should fail before minutes of weight conversion.
        let detectorSpec = detector == .opencv ? try OpenCVCascade.detector(faceCascade: faceCascade, eyeCascade: eyeCascade) : nil
        let (graph, description) = try ModelImporter.load(path: input, options: options)
        var compiled: CompiledModel
        do {
            var compileOptions = kernels == .direct ? CompileOptions.direct : CompileOptions()
            compileOptions.weights = weights
            compileOptions.errorBudget = errorBudget
            compiled = try Compiler.compile(graph, description, options: compileOptions)
        } catch let e as FacecError where e.kind == .graph {
            throw FacecError(.graph, input, e.description)
        }
        compiled.header.detector = detectorSpec
        if detector == .mtcnn {
            compiled.header.detector = try MTCNNWeights.compile(directory: mtcnnWeights, into: &compiled)
        }
        let bar = ProgressBar(label: "converting \(input)")
        let (header, size) = try ModelWriter.write(header: compiled.header, producers: compiled.producers, to: target,
                                                   progress: bar.map { b in { b.update($0, of: $1) } })
        bar?.finish()
        if !quiet {
            let withDetector = header.detector.map { d in
                d.mtcnn == nil ? " + \(d.kind) face detector (\(d.face.stumps.count)+\(d.eye.stumps.count) weak classifiers)"
                    : " + mtcnn face detector (P-, R- and O-Net)"
            } ?? ""
            let precision = weights == .f32 ? "" : ", \(weights.rawValue) weights"
            print("wrote \(out): \(header.modelName)\(withDetector)\(precision), \(header.nodes.count) nodes, output \(header.output.name) [\(header.output.dim)], \(size) bytes, arena \(header.arenaBytes) bytes")
        }
    }

    static func defaultOutput(for input: String) -> String {
        let base = input.split(separator: "/").last.map(String.init) ?? input
        let stem = base.lastIndex(of: ".").map { String(base[..<$0]) } ?? base
        return (stem.isEmpty ? base : stem) + ".fgraph"
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr, only when stderr is a terminal.
final class ProgressBar {
    private let label: String
    private var lastPercent = -1

    init?(label: String) {
        guard isatty(2) != 0 else { return nil }
        self.label = label
    }

    func update(_ done: Int, of total: Int) {
        let percent = total > 0 ? done * 100 / total : 100
        guard percent != lastPercent else { return }
        lastPercent = percent
        let filled = percent * 30 / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        writeStandardError("\r\(label) [\(bar)] \(percent)% (\(done >> 20)/\(total >> 20) MB)")
    }

    func finish() { if lastPercent >= 0 { writeStandardError("\n") } }
}
