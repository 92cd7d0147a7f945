import FacecCore
import FacecFormat

/// A compiled model ready to be written: the header (plan) and, per tensor, a
/// producer that yields its values already in the kernel's layout.
public struct CompiledModel {
    public var header: ModelHeader
    public var producers: [ModelWriter.TensorProducer]
}

/// Graph -> plan: lowering, shape inference, passes (drop dropout, fold zero
/// padding, fuse ReLU, flatten as a view, dead-node removal), kernel choice,
/// weight layout and the static memory plan.
/// Kernel strategy choices (`facec convert --kernels`).
public struct CompileOptions: Sendable {
    /// Use Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions with at least
    /// `winogradMinInputChannels` input channels: 4× fewer multiplications,
    /// at a measured cost in accuracy (ARCHITECTURE.md).
    public var winograd: Bool
    public var winogradMinInputChannels: Int
    /// …and at least this many output pixels: on small maps the transformed
    /// weights (4× the kernel's size) cost more to read than the
    /// multiplications they save (dlib's ResNet: 256 channels on 4×4).
    public var winogradMinOutputPixels = 65
    /// How convolution and dense weights are stored (`--weights`). Reduced
    /// precision runs direct convolutions: Winograd's transformed weights are
    /// 4× the size of the 3×3 kernels, which would undo the saving.
    public var weights: WeightPrecision
    /// The estimated relative output error reduced weights may cost
    /// (`--error-budget`; nil: the precision's default).
    public var errorBudget: Double?
    public init(winograd: Bool = true, winogradMinInputChannels: Int = 16, weights: WeightPrecision = .f32, errorBudget: Double? = nil) {
        self.winograd = winograd; self.winogradMinInputChannels = winogradMinInputChannels; self.weights = weights
        self.errorBudget = errorBudget
    }
    /// Every convolution direct: the most exact plan.
    public static let direct = CompileOptions(winograd: false)
}

public enum Compiler {
    public static func compile(_ graph: Graph, _ description: ModelDescription, options: CompileOptions = CompileOptions()) throws -> CompiledModel {
        var g = try Lowering.lower(graph, description: description)
        try ShapeInference.run(&g, input: description.input)
        Passes.removeIdentities(&g)
        Passes.foldZeroPadding(&g)
        Passes.trimUnreadTaps(&g)
        Passes.fuseReLU(&g)
        Passes.removeDeadNodes(&g)
        // The output keeps the name the user knows (e.g. DeepID's `deepid`
        // ReLU, now fused into the add that feeds it).
        return try emit(g, description, outputName: description.outputName ?? graph.layers[description.outputLayer].name, options: options)
    }

    private static func emit(_ g: PlanGraph, _ d: ModelDescription, outputName: String, options: CompileOptions) throws -> CompiledModel {
        var tensors: [TensorEntry] = []
        var producers: [ModelWriter.TensorProducer] = []
        var values: [ValueEntry] = []
        var nodes: [NodeEntry] = []
        var valueOf = [Int](repeating: -1, count: g.nodes.count)
        var baseOf: [Int] = []               // value -> the value owning its storage
        var requests: [MemoryPlanner.Request] = []
        var requestOf: [Int: Int] = [:]      // base value -> request

        func addTensor(_ name: String, _ shape: [Int], _ layout: TensorLayout, _ type: ElementType,
                       _ produce: @escaping ModelWriter.TensorProducer) -> Int {
            tensors.append(TensorEntry(name: name, shape: shape, layout: layout, elementType: type))
            producers.append(produce)
            return tensors.count - 1
        }
        func read(_ value: Int, at step: Int) {
            requests[requestOf[baseOf[value]]!].lastStep = max(requests[requestOf[baseOf[value]]!].lastStep, step)
        }

        let live = g.nodes.indices.filter { g.nodes[$0].alive }
        guard live.contains(where: { g.nodes[$0].kind == .input }) else {
            throw FacecError(.graph, "layer '\(d.name)'", "the network has no input layer")
        }
        let stored = try storedPrecision(g, live: live, options.weights, budget: options.errorBudget
            ?? WeightQuantization.budget(options.weights, outputCount: g.nodes[g.output].shape.reduce(1, *)))
        for i in live {
            let n = g.nodes[i]
            let step = nodes.count
            let v = values.count
            values.append(ValueEntry(name: n.name, shape: n.shape, isView: n.kind == .flatten))
            valueOf[i] = v
            if n.kind == .flatten {
                baseOf.append(baseOf[valueOf[n.inputs[0]]])
                continue
            }
            baseOf.append(v)
            requestOf[v] = requests.count
            requests.append(.init(bytes: n.shape.reduce(1, *) * 4, firstStep: n.kind == .input ? -1 : step, lastStep: step))
            if n.kind == .input { continue }

            let inputs = n.inputs.map { valueOf[$0] }
            for input in inputs { read(input, at: step) }
            var e = NodeEntry(name: n.name, kernel: .relu, inputs: inputs, output: v,
                              activation: n.activation, fused: n.fused)
            switch n.kind {
            case .conv(let geo) where Self.coversWholeInput(geo, input: g.nodes[n.inputs[0]].shape, output: n.shape):
                // fc6/fc7/fc8-style: a kernel as large as its unpadded input is a
                // dense layer on the NHWC flatten ([KH*KW*Cin] rows in HWIO order).
                let kernel = n.weights[0], cout = n.shape[2]
                let inCount = kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
                try emitDense(&e, n, kernel: kernel, inCount: inCount, out: cout, choice: stored[i] ?? .init(type: .f32), addTensor)
                e.fused.insert("conv as dense (kernel covers the input)", at: 0)
            case .conv(let geo) where options.winograd && options.weights == .f32 && geo.kernelH == 3 && geo.kernelW == 3 && geo.strideH == 1 && geo.strideW == 1
                && n.weights[0].shape[2] >= options.winogradMinInputChannels && n.shape[0] * n.shape[1] >= options.winogradMinOutputPixels:
                let kernel = n.weights[0], cout = n.shape[2], cin = kernel.shape[2]
                let cinPad = roundUp8(cin), padded = roundUp8(cout)
                e.kernel = .conv2dWinogradF43
                setGeometry(&e, geo)
                let w = addTensor(n.name + "/kernel", [36, cinPad, padded], .winogradF43C32, .f32) { sink in
                    let u = WinogradWeights.transform(try kernel.load(), cin: cin, cout: cout, cinPad: cinPad, coutPad: padded)
                    kernel.release()
                    try u.withUnsafeBufferPointer { try sink($0) }
                }
                let b = addTensor(n.name + "/bias", [padded], .vectorPad8, .f32) { sink in
                    try WeightLayout.bias(n.weights.count > 1 ? n.weights[1] : nil, count: cout, paddedTo: padded, into: sink)
                }
                e.params = [w, b]
                e.fused.insert("bias", at: e.fused.firstIndex { $0.hasPrefix("relu") } ?? e.fused.count)
                e.flops = 2 * n.shape[0] * n.shape[1] * cout * 9 * cin
            case .conv(let geo):
                let kernel = n.weights[0], cout = n.shape[2]
                let cin = kernel.shape[2], padded = roundUp8(cout)
                e.kernel = .conv2dDirect
                setGeometry(&e, geo)
                let choice = stored[i] ?? .init(type: .f32)
                // Small maps run as a 1×1 convolution over patches (PatchConv),
                // 16 channels at a time: their weights stored block by block.
                // (int8 keeps one layout: the VNNI kernels re-lay it at load.)
                let blocked = TensorLayout.blockedMap(height: n.shape[0], width: n.shape[1], strided: geo.strideH * geo.strideW > 1) && choice.type != .i8
                e.params = try emitWeights(&e, n, kernel: kernel,
                                           shape: blocked ? [(cout + 15) / 16, geo.kernelH * geo.kernelW * cin, 16] : [geo.kernelH, geo.kernelW, cin, padded],
                                           layout: blocked ? .hwioCoutBlock16 : .hwioCoutPad8,
                                           out: cout, padded: padded, choice: choice, addTensor)
                e.flops = 2 * n.shape[0] * n.shape[1] * cout * geo.kernelH * geo.kernelW * cin
            case .dense:
                let kernel = n.weights[0]
                try emitDense(&e, n, kernel: kernel, inCount: kernel.shape[0], out: n.shape[0], choice: stored[i] ?? .init(type: .f32), addTensor)
            case .maxPool(let geo): e.kernel = .maxPool; setGeometry(&e, geo)
            case .avgPool(let geo): e.kernel = .avgPool; setGeometry(&e, geo)
            case .zeroPad(let geo): e.kernel = .zeroPad; setGeometry(&e, geo)
            case .add, .zeroExtendedAdd: e.kernel = .add
            case .relu: e.kernel = .relu
            case .softmax: e.kernel = .softmax
            case .input, .flatten, .identity:
                throw FacecError(.graph, "layer '\(n.name)'", "internal error: unexpected node kind after the passes")
            }
            nodes.append(e)
        }
        guard !nodes.isEmpty else { throw FacecError(.graph, "layer '\(d.name)'", "the chosen output is the input itself") }

        let outputValue = valueOf[g.output]
        values[outputValue].name = outputName
        requests[requestOf[baseOf[outputValue]]!].lastStep = Int.max
        var classesValue: Int? = nil
        if let c = g.classes, !d.classNames.isEmpty {
            classesValue = valueOf[c]
            requests[requestOf[baseOf[classesValue!]]!].lastStep = Int.max
        }
        let (offsets, arena) = MemoryPlanner.plan(requests)
        for v in values.indices {
            let r = requestOf[baseOf[v]]!
            values[v].arenaOffset = offsets[r]
            values[v].arenaBytes = MemoryPlanner.rounded(requests[r].bytes)
        }
        let total = requests.reduce(0) { $0 + MemoryPlanner.rounded($1.bytes) }
        let inputValue = valueOf[live.first { g.nodes[$0].kind == .input }!]
        var header = ModelHeader(
            modelName: d.name, input: d.input,
            output: OutputSpec(name: values[outputValue].name, dim: values[outputValue].elementCount, l2Normalize: d.l2Normalize),
            defaultMetric: d.defaultMetric, thresholds: d.thresholds, provenance: d.provenance,
            tensors: tensors, values: values, nodes: nodes, inputValue: inputValue, outputValue: outputValue,
            arenaBytes: arena, activationsTotalBytes: total,
            classNames: classesValue == nil ? [] : d.classNames, classesValue: classesValue)
        header.weightPrecision = options.weights
        return CompiledModel(header: header, producers: producers)
    }

    static func coversWholeInput(_ geo: PlanNode.Geometry, input: [Int], output: [Int]) -> Bool {
        input.count == 3 && geo.padTop + geo.padBottom + geo.padLeft + geo.padRight == 0
            && geo.kernelH == input[0] && geo.kernelW == input[1] && output[0] == 1 && output[1] == 1
    }

    /// Per weighted node (convolution or dense), the stored precision the
    /// quantiser planned for `--weights` (empty for float32).
    private static func storedPrecision(_ g: PlanGraph, live: [Int], _ precision: WeightPrecision,
                                        budget: Double) throws -> [Int: WeightQuantization.Choice] {
        guard precision != .f32 else { return [:] }
        let weighted = live.filter {
            switch g.nodes[$0].kind {
            case .conv, .dense: return true
            default: return false
            }
        }
        let analyses = try weighted.map { i -> WeightQuantization.Analysis in
            let kernel = g.nodes[i].weights[0]
            return try WeightQuantization.analyse(kernel, paddedColumns: roundUp8(kernel.shape.last!))
        }
        let choices = WeightQuantization.plan(analyses, precision: precision, budget: budget)
        return Dictionary(uniqueKeysWithValues: zip(weighted, choices))
    }

    typealias AddTensor = (String, [Int], TensorLayout, ElementType, @escaping ModelWriter.TensorProducer) -> Int

    /// Dense weights [In][OutPad8] (row-major: streams from any source; the
    /// runtime splits rows across threads), bias padded to 8.
    private static func emitDense(_ e: inout NodeEntry, _ n: PlanNode, kernel: WeightTensor, inCount: Int, out: Int,
                                  choice: WeightQuantization.Choice, _ addTensor: AddTensor) throws {
        let padded = roundUp8(out)
        e.kernel = .dense
        e.params = try emitWeights(&e, n, kernel: kernel, shape: [inCount, padded], layout: .ioOutPad8, out: out, padded: padded,
                                   choice: choice, addTensor)
        e.flops = 2 * inCount * out
    }

    /// A direct convolution's or dense layer's weights (output channels last,
    /// padded to `padded`) in the precision the quantiser chose for them, the
    /// bias, and for int8 the per-channel scales: the node's params.
    private static func emitWeights(_ e: inout NodeEntry, _ n: PlanNode, kernel: WeightTensor, shape: [Int], layout: TensorLayout,
                                    out: Int, padded: Int, choice: WeightQuantization.Choice, _ addTensor: AddTensor) throws -> [Int] {
        e.weightError = Float(choice.relativeError)
        let w: Int
        if choice.type == .i8 {
            let scales = choice.scales
            w = addTensor(n.name + "/kernel", shape, layout, .i8) { sink in
                try WeightQuantization.quantized(kernel, scales: scales, padded: padded, into: sink)
                kernel.release()
            }
        } else {
            w = addTensor(n.name + "/kernel", shape, layout, choice.type) { sink in
                if layout == .hwioCoutBlock16 {
                    try WeightLayout.blocks16(kernel, into: sink)
                } else {
                    try WeightLayout.padLastAxis(kernel, to: padded, into: sink)
                }
                kernel.release()
            }
        }
        let b = addTensor(n.name + "/bias", [padded], .vectorPad8, .f32) { sink in
            try WeightLayout.bias(n.weights.count > 1 ? n.weights[1] : nil, count: out, paddedTo: padded, into: sink)
        }
        e.fused.insert("bias", at: e.fused.firstIndex { $0.hasPrefix("relu") } ?? e.fused.count)
        guard choice.type == .i8 else { return [w, b] }
        let scales = choice.scales
        let s = addTensor(n.name + "/scales", [padded], .vectorPad8, .f32) { sink in
            try scales.withUnsafeBufferPointer { try sink($0) }
        }
        return [w, b, s]
    }

    private static func setGeometry(_ e: inout NodeEntry, _ g: PlanNode.Geometry) {
        e.kernelH = g.kernelH; e.kernelW = g.kernelW; e.strideH = g.strideH; e.strideW = g.strideW
        e.padTop = g.padTop; e.padBottom = g.padBottom; e.padLeft = g.padLeft; e.padRight = g.padRight
    }

    static func roundUp8(_ n: Int) -> Int { (n + 7) / 8 * 8 }
}

/// Weight layouts the kernels read (done once, at compile time), streamed to
/// the writer in chunks.
enum WeightLayout {
    /// Pads the last (output-channel) axis with zeros to `padded`.
    static func padLastAxis(_ t: WeightTensor, to padded: Int, into sink: ModelWriter.TensorSink) throws {
        try t.stream { values in
            let last = t.shape.last!
            if padded == last { try sink(values); return }
            // Re-chunk row by row with zero padding (rows arrive whole: every
            // source yields whole rows of the last axis).
            guard values.count % last == 0 else {
                throw FacecError(.graph, "layer '\(t.name)'", "internal error: chunk of \(values.count) values is not whole rows of \(last)")
            }
            var row = [Float](repeating: 0, count: padded)
            for r in 0..<(values.count / last) {
                for c in 0..<last { row[c] = values[r * last + c] }
                try row.withUnsafeBufferPointer { try sink($0) }
            }
        }
    }

    /// [K][Cout] (HWIO flattened) → [CoutPad16/16][K][16], zeros past Cout.
    static func blocks16(_ t: WeightTensor, into sink: ModelWriter.TensorSink) throws {
        let all = try t.load()
        let cout = t.shape.last!, k = all.count / cout
        var block = [Float](repeating: 0, count: k * 16)
        for b in 0..<((cout + 15) / 16) {
            let c0 = b * 16, width = min(16, cout - c0)
            for r in 0..<k {
                for c in 0..<16 { block[r * 16 + c] = c < width ? all[r * cout + c0 + c] : 0 }
            }
            try block.withUnsafeBufferPointer { try sink($0) }
        }
    }

    static func bias(_ t: WeightTensor?, count: Int, paddedTo padded: Int, into sink: ModelWriter.TensorSink) throws {
        var out = [Float](repeating: 0, count: padded)
        if let t {
            let values = try t.load()
            guard values.count == count else { throw FacecError(.graph, "layer '\(t.name)'", "bias has \(values.count) values, expected \(count)") }
            for i in 0..<count { out[i] = values[i] }
        }
        try out.withUnsafeBufferPointer { try sink($0) }
    }
}
