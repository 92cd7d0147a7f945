import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// A loaded, validated model: immutable, shareable between threads. Create one
/// `ModelInstance` per thread to run it.
public final class Model: Sendable {
    public let file: ModelFile
    let steps: [Step]
    public var header: ModelHeader { file.header }
    public var path: String { file.path }

    public init(path: String, verifyData: Bool = true) throws {
        file = try ModelFile(path: path, verifyData: verifyData)
        steps = try PlanBuilder.build(file)
    }

    public func makeInstance() -> ModelInstance { ModelInstance(model: self) }

    /// Floats per input image (H×W×C).
    public var inputCount: Int { header.input.height * header.input.width * header.input.channels }
}

/// The per-thread state of a model: its activation arena (planned size,
/// allocated once, reused for every input). Not for concurrent use; make one
/// per thread.
public final class ModelInstance {
    public let model: Model
    private let arena: UnsafeMutableRawPointer
    private let scratch: UnsafeMutablePointer<Float>
    private var inputPointers: [UnsafePointer<Float>] = []

    init(model: Model) {
        self.model = model
        let bytes = max(model.header.arenaBytes, 64)
        arena = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        let scratchCount = max(8, model.steps.map(\.paddedOut).max() ?? 8)
        scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
        inputPointers.reserveCapacity(64)
    }

    deinit {
        arena.deallocate()
        scratch.deallocate()
    }

    /// Runs the network on one preprocessed NHWC image (`model.inputCount`
    /// floats) and returns the embedding (L2-normalised if the model says so).
    public func embed(_ input: UnsafeBufferPointer<Float>) -> [Float] {
        precondition(input.count == model.inputCount, "input has \(input.count) floats, the model takes \(model.inputCount)")
        run(input)
        return output(model.header.outputValue, normalize: model.header.output.l2Normalize)
    }

    public func embed(_ input: [Float]) -> [Float] { input.withUnsafeBufferPointer { embed($0) } }

    /// Class probabilities of the last run, when the model has classes.
    public func classProbabilities() -> [Float]? {
        model.header.classesValue.map { output($0, normalize: false) }
    }

    private func run(_ input: UnsafeBufferPointer<Float>) {
        let h = model.header
        pointer(h.values[h.inputValue].arenaOffset).update(from: input.baseAddress!, count: input.count)
        for s in model.steps {
            let y = pointer(s.output)
            switch s.kernel {
            case .conv2dDirect: Kernels.conv2d(s, input: pointer(s.inputs[0]), output: y)
            case .dense: Kernels.dense(s, input: pointer(s.inputs[0]), output: y, scratch: scratch)
            case .maxPool: Kernels.maxPool(s, input: pointer(s.inputs[0]), output: y)
            case .avgPool: Kernels.avgPool(s, input: pointer(s.inputs[0]), output: y)
            case .zeroPad: Kernels.zeroPad(s, input: pointer(s.inputs[0]), output: y)
            case .relu: Kernels.relu(s, input: pointer(s.inputs[0]), output: y)
            case .softmax: Kernels.softmax(s, input: pointer(s.inputs[0]), output: y)
            case .add:
                inputPointers.removeAll(keepingCapacity: true)
                for offset in s.inputs { inputPointers.append(UnsafePointer(pointer(offset))) }
                Kernels.add(s, inputs: inputPointers, output: y)
            }
        }
    }

    @inline(__always)
    private func pointer(_ offset: Int) -> UnsafeMutablePointer<Float> {
        (arena + offset).assumingMemoryBound(to: Float.self)
    }

    private func output(_ value: Int, normalize: Bool) -> [Float] {
        let v = model.header.values[value]
        var out = Array(UnsafeBufferPointer(start: pointer(v.arenaOffset), count: v.elementCount))
        if normalize { Normalization.l2Normalize(&out) }
        return out
    }
}
