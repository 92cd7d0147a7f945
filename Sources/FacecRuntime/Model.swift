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

    /// - Parameter threads: cores this instance's kernels use (its own workers).
    public func makeInstance(threads: Int = 1) -> ModelInstance { ModelInstance(model: self, threads: threads) }

    /// Floats per input image (H×W×C).
    public var inputCount: Int { header.input.height * header.input.width * header.input.channels }
}

/// The per-thread state of a model: its activation arena (planned size,
/// allocated once, reused for every input). Not for concurrent use; make one
/// per thread.
public final class ModelInstance {
    public let model: Model
    private let arena: UnsafeMutableRawPointer
    /// Dense partial sums: one OutPad8 row per task.
    private let partials: UnsafeMutablePointer<Float>
    private let partialCapacity: Int
    /// Zero-padded input copy for padded convolutions.
    private let padded: UnsafeMutablePointer<Float>
    private var inputPointers: [UnsafePointer<Float>] = []
    private let pool: WorkerPool

    init(model: Model, threads: Int) {
        self.model = model
        pool = WorkerPool(threads: threads)
        let bytes = max(model.header.arenaBytes, 64)
        arena = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        partialCapacity = max(8, model.steps.map(\.paddedOut).max() ?? 8)
        partials = UnsafeMutablePointer<Float>.allocate(capacity: partialCapacity * Self.denseTasks(pool.threads))
        let paddedCount = model.steps.filter { $0.kernel == .conv2dDirect }.map {
            ($0.inShape.h + $0.padTop + $0.padBottom) * ($0.inShape.w + $0.padLeft + $0.padRight) * $0.inShape.c
        }.max() ?? 0
        padded = UnsafeMutablePointer<Float>.allocate(capacity: max(8, paddedCount))
        inputPointers.reserveCapacity(64)
    }

    deinit {
        pool.shutdown()
        arena.deallocate()
        partials.deallocate()
        padded.deallocate()
    }

    public var threads: Int { pool.threads }

    /// Row ranges per dense layer: one per thread (more would only add
    /// partial sums to reduce).
    static func denseTasks(_ threads: Int) -> Int { threads }

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
            case .conv2dDirect: conv(s, input: pointer(s.inputs[0]), output: y)
            case .dense: dense(s, input: pointer(s.inputs[0]), output: y)
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

    private func conv(_ s: Step, input x: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let source: UnsafePointer<Float>
        if s.padTop + s.padBottom + s.padLeft + s.padRight > 0 {
            ConvKernel.pad(s, input: x, into: padded)
            source = UnsafePointer(padded)
        } else {
            source = UnsafePointer(x)
        }
        pool.parallelFor(s.outShape.h) { oy in ConvKernel.row(s, oy: oy, padded: source, output: y) }
    }

    private func dense(_ s: Step, input x: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let n = s.inShape.c
        let tasks = min(Self.denseTasks(pool.threads), max(1, n / 256))
        let partials = self.partials, capacity = partialCapacity
        pool.parallelFor(tasks) { t in
            DenseKernel.partial(s, input: x, rows: n * t / tasks, n * (t + 1) / tasks, into: partials + t * capacity)
        }
        DenseKernel.reduce(s, partials: partials, count: tasks, stride: capacity, output: y)
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
