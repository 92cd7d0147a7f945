import FGraphSchema
import FacecCore

/// protobuf bytes -> ModelHeader, checking every index, size and offset so the
/// runtime can trust the structure. (Kernel-specific shape rules are checked by
/// the runtime's plan builder, which knows what each kernel reads.)
enum HeaderDecoding {
    /// Largest activation arena a model may ask for (VGG-Face needs ~30 MB).
    static let maxArenaBytes = 1 << 31
    static let maxDimension = 1 << 28
    /// No node of a face network is near this (VGG-Face conv1_2: 3.7e9); the
    /// plan builder checks each node's exact count against its shapes.
    static let maxNodeFlops = 1 << 50

    static func decode(_ bytes: UnsafeRawBufferPointer, dataLength: Int, path: String) throws -> ModelHeader {
        guard let base = bytes.baseAddress,
              let raw = fgraph__header__unpack(nil, bytes.count, base.assumingMemoryBound(to: UInt8.self)) else {
            throw FacecError(.model, path, "damaged model file: the header is not a valid fgraph.Header message")
        }
        defer { fgraph__header__free_unpacked(raw, nil) }
        let h = raw.pointee
        func fail(_ reason: String) -> FacecError { FacecError(.model, path, "invalid model header: \(reason)") }

        guard let inP = h.input, let outP = h.output, let provP = h.provenance else {
            throw fail("missing input, output or provenance section")
        }
        let input = try decodeInput(inP.pointee, fail)
        let outSpec = OutputSpec(name: try text(outP.pointee.name, "the output name", fail), dim: Int(outP.pointee.dim),
                                 l2Normalize: outP.pointee.l2_normalize != 0)
        let pv = provP.pointee
        let provenance = Provenance(
            sourceFile: try text(pv.source_file, "the source file name", fail),
            sourceSHA256: pv.source_sha256.len > 0 && pv.source_sha256.data != nil
                ? Array(UnsafeBufferPointer(start: pv.source_sha256.data, count: pv.source_sha256.len)) : [],
            sourceFormat: try text(pv.source_format, "the source format", fail), architecture: try text(pv.architecture, "the architecture", fail),
            converterVersion: try text(pv.converter_version, "the converter version", fail))

        guard let defaultMetric = MetricCode.metric(h.default_metric.rawValue) else {
            throw fail("unknown default metric \(h.default_metric.rawValue)")
        }
        var thresholds: [Metric: Float] = [:]
        for t in messages(h.thresholds, h.n_thresholds) {
            guard let m = MetricCode.metric(t.metric.rawValue) else { throw fail("unknown metric \(t.metric.rawValue)") }
            guard t.value.isFinite, t.value >= 0 else { throw fail("threshold \(t.value) for \(m.rawValue) is not a finite non-negative number") }
            thresholds[m] = t.value
        }

        var tensors: [TensorEntry] = []
        for (i, t) in messages(h.tensors, h.n_tensors).enumerated() {
            let shape = try dims(t.shape, t.n_shape, maxRank: 4, what: "tensor \(i)", fail)
            guard Int(t.layout.rawValue) < LayoutCode.all.count else { throw fail("tensor \(i) has unknown layout \(t.layout.rawValue)") }
            guard let elementType = ElementCode.type(t.element_type.rawValue) else {
                throw fail("tensor \(i) has unknown element type \(t.element_type.rawValue)")
            }
            let bytes = try byteCount(shape, elementSize: elementType.byteSize, what: "tensor \(i)", fail)
            guard t.length == UInt64(bytes) else { throw fail("tensor \(i) length \(t.length) does not match its shape \(shape) (\(bytes) bytes)") }
            guard t.offset % UInt64(Preamble.dataAlignment) == 0 else { throw fail("tensor \(i) offset \(t.offset) is not \(Preamble.dataAlignment)-byte aligned") }
            let (end, overflow) = t.offset.addingReportingOverflow(t.length)
            guard !overflow, end <= UInt64(dataLength) else {
                throw fail("tensor \(i) (\(t.offset)+\(t.length)) lies outside the \(dataLength)-byte data section")
            }
            tensors.append(TensorEntry(name: try text(t.name, "tensor \(i)'s name", fail), shape: shape, layout: LayoutCode.all[Int(t.layout.rawValue)],
                                       elementType: elementType, offset: Int(t.offset), length: Int(t.length)))
        }

        guard h.arena_bytes <= UInt64(maxArenaBytes) else { throw fail("arena of \(h.arena_bytes) bytes exceeds the \(maxArenaBytes)-byte limit") }
        var values: [ValueEntry] = []
        for (i, v) in messages(h.values, h.n_values).enumerated() {
            let shape = try dims(v.shape, v.n_shape, maxRank: 3, what: "value \(i)", fail)
            let bytes = try byteCount(shape, what: "value \(i)", fail)
            // Exactly its data rounded to whole cache lines, as the planner
            // assigns it: more would let the arena grow without bound.
            guard v.arena_bytes == UInt64((bytes + 63) / 64 * 64) else {
                throw fail("value \(i) has \(v.arena_bytes) arena bytes for \(bytes) bytes of data")
            }
            let (end, overflow) = v.arena_offset.addingReportingOverflow(v.arena_bytes)
            guard !overflow, end <= h.arena_bytes else { throw fail("value \(i) lies outside the \(h.arena_bytes)-byte arena") }
            guard v.arena_offset % 64 == 0 else { throw fail("value \(i) arena offset is not 64-byte aligned") }
            values.append(ValueEntry(name: try text(v.name, "value \(i)'s name", fail), shape: shape, arenaOffset: Int(v.arena_offset),
                                     arenaBytes: Int(v.arena_bytes), isView: v.is_view != 0))
        }
        // The arena is where the values lie, no larger (every instance allocates it).
        let extent = values.map { $0.arenaOffset + $0.arenaBytes }.max() ?? 0
        guard h.arena_bytes <= UInt64(extent) else {
            throw fail("arena of \(h.arena_bytes) bytes is larger than its values need (\(extent) bytes)")
        }

        var nodes: [NodeEntry] = []
        for (i, n) in messages(h.nodes, h.n_nodes).enumerated() {
            guard let kernel = KernelCode.kernel(n.kernel.rawValue) else {
                throw fail("node \(i) uses unknown kernel \(n.kernel.rawValue) (made by a newer facec?)")
            }
            let inputs = ints(n.inputs, n.n_inputs), params = ints(n.params, n.n_params)
            guard inputs.allSatisfy({ $0 < values.count }), Int(n.output) < values.count else {
                throw fail("node \(i) refers to a value out of range")
            }
            guard params.allSatisfy({ $0 < tensors.count }) else { throw fail("node \(i) refers to a tensor out of range") }
            guard n.activation.rawValue <= 1 else { throw fail("node \(i) has unknown activation \(n.activation.rawValue)") }
            let geometry = [n.kernel_h, n.kernel_w, n.stride_h, n.stride_w, n.pad_top, n.pad_bottom, n.pad_left, n.pad_right]
            guard geometry.allSatisfy({ $0 <= 1 << 16 }) else { throw fail("node \(i) has an absurd kernel geometry") }
            guard n.flops <= UInt64(maxNodeFlops) else { throw fail("node \(i) claims \(n.flops) FLOPs") }
            var node = NodeEntry(name: try text(n.name, "node \(i)'s name", fail), kernel: kernel, inputs: inputs, output: Int(n.output), params: params,
                                 activation: n.activation.rawValue == 1 ? .relu : .none,
                                 fused: try (0..<n.n_fused).map { try text(n.fused[$0], "node \(i)'s fused layer", fail) },
                                 flops: Int(n.flops))
            node.kernelH = Int(n.kernel_h); node.kernelW = Int(n.kernel_w)
            node.strideH = Int(n.stride_h); node.strideW = Int(n.stride_w)
            node.padTop = Int(n.pad_top); node.padBottom = Int(n.pad_bottom)
            node.padLeft = Int(n.pad_left); node.padRight = Int(n.pad_right)
            node.weightError = n.weight_error
            nodes.append(node)
        }
        guard !nodes.isEmpty else { throw fail("the graph has no nodes") }
        guard Int(h.input_value) < values.count, Int(h.output_value) < values.count else {
            throw fail("input or output value out of range")
        }
        let classNames = try (0..<h.n_class_names).map { try text(h.class_names[$0], "class name \($0)", fail) }
        var classesValue: Int? = nil
        if h.has_classes_value != 0 {
            guard Int(h.classes_value) < values.count else { throw fail("classes value out of range") }
            classesValue = Int(h.classes_value)
        }
        try Dataflow.check(nodes: nodes, values: values, input: Int(h.input_value),
                           outputs: [Int(h.output_value)] + (classesValue.map { [$0] } ?? []), fail)
        let outElements = values[Int(h.output_value)].elementCount
        guard outSpec.dim == outElements else {
            throw fail("output dimension \(outSpec.dim) does not match the output value's \(outElements) elements")
        }
        guard values[Int(h.input_value)].shape == [input.height, input.width, input.channels] else {
            throw fail("input value shape \(values[Int(h.input_value)].shape) does not match the input spec")
        }
        let detector = try h.detector.map { try DetectorCoding.decode($0.pointee, tensors: tensors, fail) }
        guard h.weight_precision.rawValue < WeightPrecision.allCases.count else {
            throw fail("unknown weight precision \(h.weight_precision.rawValue)")
        }
        var header = ModelHeader(modelName: try text(h.model_name, "the model name", fail), input: input, output: outSpec,
                           defaultMetric: defaultMetric, thresholds: thresholds, provenance: provenance,
                           tensors: tensors, values: values, nodes: nodes,
                           inputValue: Int(h.input_value), outputValue: Int(h.output_value),
                           arenaBytes: Int(h.arena_bytes), activationsTotalBytes: Int(clamping: h.activations_total_bytes),
                           classNames: classNames, classesValue: classesValue, detector: detector)
        header.weightPrecision = WeightPrecision.allCases[Int(h.weight_precision.rawValue)]
        return header
    }

    private static func decodeInput(_ s: Fgraph__InputSpec, _ fail: (String) -> FacecError) throws -> InputSpec {
        guard (1...8192).contains(s.height), (1...8192).contains(s.width) else {
            throw fail("input size \(s.height)x\(s.width) is out of range")
        }
        guard s.channels == 3 else { throw fail("input has \(s.channels) channels; facec models take 3") }
        guard s.color_order.rawValue <= 1, s.resize.rawValue <= 1 else { throw fail("unknown colour order or resize policy") }
        let mean = s.n_mean > 0 ? Array(UnsafeBufferPointer(start: s.mean, count: s.n_mean)) : []
        guard mean.isEmpty || mean.count == Int(s.channels) else { throw fail("input mean has \(mean.count) values for \(s.channels) channels") }
        guard s.scale.isFinite, mean.allSatisfy(\.isFinite) else { throw fail("input scale or mean is not finite") }
        let postScale = s.post_scale == 0 ? 1 : s.post_scale
        guard postScale.isFinite else { throw fail("input post-scale is not finite") }
        guard s.truncate_to_uint8 != 0 || postScale == 1 else { throw fail("input post-scale without the uint8 truncation") }
        return InputSpec(height: Int(s.height), width: Int(s.width), channels: Int(s.channels),
                         colorOrder: s.color_order.rawValue == 0 ? .rgb : .bgr, scale: s.scale, mean: mean,
                         resize: s.resize.rawValue == 0 ? .keepAspectPad : .stretch, note: try text(s.note, "the input note", fail),
                         truncateToUInt8: s.truncate_to_uint8 != 0, postScale: postScale)
    }

    private static func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    /// A name or note that facec prints: no control characters (a newline
    /// or an escape sequence would forge output lines or drive the terminal).
    static func text(_ p: UnsafeMutablePointer<CChar>?, _ what: String, _ fail: (String) -> FacecError) throws -> String {
        let s = string(p)
        if let bad = controlCharacter(in: s) { throw fail("\(what) holds the control character \(bad)") }
        return s
    }

    /// The first control character of `s` as "U+000A", or nil.
    public static func controlCharacter(in s: String) -> String? {
        guard let bad = s.unicodeScalars.first(where: isControlCharacter) else { return nil }
        let hex = String(bad.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    private static func messages<T>(_ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ n: Int) -> [T] {
        guard let p, n > 0 else { return [] }
        return (0..<n).compactMap { p[$0]?.pointee }
    }

    private static func ints(_ p: UnsafeMutablePointer<UInt32>?, _ n: Int) -> [Int] {
        guard let p, n > 0 else { return [] }
        return (0..<n).map { Int(p[$0]) }
    }

    private static func dims(_ p: UnsafeMutablePointer<UInt32>?, _ n: Int, maxRank: Int, what: String,
                             _ fail: (String) -> FacecError) throws -> [Int] {
        guard (1...maxRank).contains(n) else { throw fail("\(what) has rank \(n)") }
        let shape = ints(p, n)
        guard shape.allSatisfy({ $0 >= 1 && $0 <= maxDimension }) else { throw fail("\(what) has shape \(shape)") }
        return shape
    }

    private static func byteCount(_ shape: [Int], elementSize: Int = 4, what: String, _ fail: (String) -> FacecError) throws -> Int {
        var total = elementSize
        for d in shape {
            let (r, o) = total.multipliedReportingOverflow(by: d)
            guard !o, r <= 1 << 40 else { throw fail("\(what) shape \(shape) is too large") }
            total = r
        }
        return total
    }
}
