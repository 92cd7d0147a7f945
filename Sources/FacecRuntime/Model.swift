import FacecCore
import FacecFormat
import FacecKernels
#if canImport(Glibc)
import Glibc
#endif

/// A loaded, validated model: immutable, shareable between threads. Create one
/// `ModelInstance` per thread to run it.
public final class Model: Sendable {
    public let file: ModelFile
    let steps: [Step]
    /// Per step: its int8 weights re-laid for the VNNI tiles (only on CPUs
    /// with VNNI, only int8 direct convolutions).
    let int8Convs: [Int8ConvWeights?]
    public var header: ModelHeader { file.header }
    public var path: String { file.path }

    /// Whether some stored tensors were handed back after re-laying (VNNI):
    /// only instances that use the re-laid copies may run this model.
    let releasedOriginals: Bool

    public init(path: String) throws {
        file = try ModelFile(path: path)
        steps = try PlanBuilder.build(file)
        // Re-laid when this process will use VNNI (FACEC_ISA may say not);
        // the file's pages of those weights then leave resident memory, so a
        // model is held once (VGG-Face int8: 15 MB of convolution weights).
        // Each tensor's pages go as soon as its copy exists: the peak holds
        // one layer twice, not all of them.
        let vnni = KernelISA.best.int8Activations
        var relaid: [Int8ConvWeights?] = []
        for (s, n) in zip(steps, file.header.nodes) {
            let w = vnni ? Int8ConvWeights(s) : nil
            if w != nil { file.releasePages(ofTensor: n.params[0]) }
            relaid.append(w)
        }
        int8Convs = relaid
        releasedOriginals = relaid.contains { $0 != nil }
    }

    /// - Parameters:
    ///   - threads: cores this instance's kernels use (its own workers).
    ///   - isa: the micro-kernels' instruction set; must be in `KernelISA.supported`.
    public func makeInstance(threads: Int = 1, isa: KernelISA = .best) -> ModelInstance {
        ModelInstance(model: self, threads: threads, isa: isa)
    }

    /// Floats per input image (H×W×C).
    public var inputCount: Int { header.input.height * header.input.width * header.input.channels }
}

/// The per-thread state of a model: its activation arena (planned size,
/// allocated once, reused for every input) and worker threads, run by the
/// kernels' `PlanExecutor`. Not for concurrent use; make one per thread.
public final class ModelInstance {
    public let model: Model
    private let executor: PlanExecutor

    init(model: Model, threads: Int, isa: KernelISA) {
        precondition(KernelISA.supported.contains(isa), "this CPU does not support \(isa.rawValue)")
        precondition(isa.int8Activations || !model.releasedOriginals,
                     "the model's int8 weights were re-laid for \(KernelISA.best.rawValue) (FACEC_ISA chooses before loading)")
        self.model = model
        executor = PlanExecutor(steps: model.steps, header: model.header, int8Convs: model.int8Convs, threads: threads, isa: isa)
    }

    public var threads: Int { executor.threads }
    public var isa: KernelISA { executor.isa }

    /// Runs the network on one preprocessed NHWC image (`model.inputCount`
    /// floats) and returns the embedding (L2-normalised if the model says so).
    /// An embedding with a NaN or an infinity is an error, not a result: the
    /// loader refuses non-finite weights, but finite ones can still overflow.
    public func embed(_ input: UnsafeBufferPointer<Float>) throws -> [Float] {
        precondition(input.count == model.inputCount, "input has \(input.count) floats, the model takes \(model.inputCount)")
        var none: [Double] = []
        executor.run(input, times: &none)
        let e = executor.output(model.header.outputValue, normalize: model.header.output.l2Normalize)
        guard e.allSatisfy(\.isFinite) else {
            let reason = input.allSatisfy(\.isFinite) ? "the network's output is not finite (its weights overflow float32: a damaged or hostile model)"
                : "the input holds a NaN or an infinity"
            throw FacecError(.model, model.path, reason)
        }
        return e
    }

    public func embed(_ input: [Float]) throws -> [Float] { try input.withUnsafeBufferPointer { try embed($0) } }

    /// Class probabilities of the last run, when the model has classes.
    public func classProbabilities() -> [Float]? {
        model.header.classesValue.map { executor.output($0, normalize: false) }
    }

    /// Runs once and returns seconds per node (for `facec bench --layers`).
    public func profile(_ input: [Float]) -> [Double] {
        precondition(input.count == model.inputCount, "input has \(input.count) floats, the model takes \(model.inputCount)")
        var times = [Double](repeating: 0, count: model.steps.count)
        input.withUnsafeBufferPointer { executor.run($0, times: &times) }
        return times
    }

    /// Whether node `index` runs inside the node before it (a max pooling
    /// fused into its convolution on this instance's instruction set).
    public func runsWithPrevious(_ index: Int) -> Bool { executor.runsWithPrevious(index) }
    /// Per node, whether it is split across the threads; nil while the first
    /// runs still time the middling layers both ways (`SplitCalibration`).
    package var splitNodes: [Bool]? { executor.splitSteps }
}
