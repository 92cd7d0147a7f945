import FGraphSchema
import FacecCore

/// ModelHeader -> protobuf bytes (via the generated protobuf-c code).
enum HeaderEncoding {
    static func encode(_ h: ModelHeader) -> [UInt8] {
        let c = CAllocations()

        var input = Fgraph__InputSpec()
        fgraph__input_spec__init(&input)
        input.height = UInt32(h.input.height)
        input.width = UInt32(h.input.width)
        input.channels = UInt32(h.input.channels)
        input.color_order = h.input.colorOrder == .rgb ? FGRAPH__COLOR_ORDER__COLOR_ORDER_RGB : FGRAPH__COLOR_ORDER__COLOR_ORDER_BGR
        input.scale = h.input.scale
        input.n_mean = h.input.mean.count
        input.mean = c.array(h.input.mean)
        input.resize = h.input.resize == .keepAspectPad ? FGRAPH__RESIZE_POLICY__RESIZE_KEEP_ASPECT_PAD : FGRAPH__RESIZE_POLICY__RESIZE_STRETCH
        input.note = c.string(h.input.note)
        input.truncate_to_uint8 = h.input.truncateToUInt8 ? 1 : 0
        input.post_scale = h.input.postScale == 1 ? 0 : h.input.postScale

        var output = Fgraph__OutputSpec()
        fgraph__output_spec__init(&output)
        output.name = c.string(h.output.name)
        output.dim = UInt32(h.output.dim)
        output.l2_normalize = h.output.l2Normalize ? 1 : 0

        var prov = Fgraph__Provenance()
        fgraph__provenance__init(&prov)
        prov.source_file = c.string(h.provenance.sourceFile)
        prov.source_sha256 = ProtobufCBinaryData(len: h.provenance.sourceSHA256.count,
                                                 data: c.array(h.provenance.sourceSHA256))
        prov.source_format = c.string(h.provenance.sourceFormat)
        prov.architecture = c.string(h.provenance.architecture)
        prov.converter_version = c.string(h.provenance.converterVersion)

        let thresholds: [Fgraph__Threshold] = Metric.allCases.compactMap { m in
            guard let v = h.thresholds[m] else { return nil }
            var t = Fgraph__Threshold()
            fgraph__threshold__init(&t)
            t.metric = MetricCode.code(m)
            t.value = v
            return t
        }
        let tensors: [Fgraph__Tensor] = h.tensors.map { e in
            var t = Fgraph__Tensor()
            fgraph__tensor__init(&t)
            t.name = c.string(e.name)
            t.n_shape = e.shape.count
            t.shape = c.array(e.shape.map(UInt32.init))
            t.layout = Fgraph__TensorLayout(rawValue: LayoutCode.all.firstIndex(of: e.layout).map(UInt32.init)!)
            t.offset = UInt64(e.offset)
            t.length = UInt64(e.length)
            t.element_type = Fgraph__ElementType(rawValue: ElementCode.code(e.elementType))
            return t
        }
        let values: [Fgraph__Value] = h.values.map { e in
            var v = Fgraph__Value()
            fgraph__value__init(&v)
            v.name = c.string(e.name)
            v.n_shape = e.shape.count
            v.shape = c.array(e.shape.map(UInt32.init))
            v.arena_offset = UInt64(e.arenaOffset)
            v.arena_bytes = UInt64(e.arenaBytes)
            v.is_view = e.isView ? 1 : 0
            return v
        }
        let nodes: [Fgraph__Node] = h.nodes.map { e in
            var n = Fgraph__Node()
            fgraph__node__init(&n)
            n.name = c.string(e.name)
            n.kernel = Fgraph__Kernel(rawValue: KernelCode.code(e.kernel))
            n.n_inputs = e.inputs.count
            n.inputs = c.array(e.inputs.map(UInt32.init))
            n.output = UInt32(e.output)
            n.n_params = e.params.count
            n.params = c.array(e.params.map(UInt32.init))
            n.activation = e.activation == .relu ? FGRAPH__ACTIVATION__ACTIVATION_RELU : FGRAPH__ACTIVATION__ACTIVATION_NONE
            n.kernel_h = UInt32(e.kernelH); n.kernel_w = UInt32(e.kernelW)
            n.stride_h = UInt32(e.strideH); n.stride_w = UInt32(e.strideW)
            n.pad_top = UInt32(e.padTop); n.pad_bottom = UInt32(e.padBottom)
            n.pad_left = UInt32(e.padLeft); n.pad_right = UInt32(e.padRight)
            n.n_fused = e.fused.count
            n.fused = c.array(e.fused.map { Optional(c.string($0)) })
            n.flops = UInt64(e.flops)
            n.weight_error = e.weightError
            return n
        }

        var header = Fgraph__Header()
        fgraph__header__init(&header)
        header.model_name = c.string(h.modelName)
        header.input = c.object(input)
        header.output = c.object(output)
        header.default_metric = MetricCode.code(h.defaultMetric)
        header.n_thresholds = thresholds.count
        header.thresholds = c.objects(thresholds)
        header.provenance = c.object(prov)
        header.n_tensors = tensors.count
        header.tensors = c.objects(tensors)
        header.n_values = values.count
        header.values = c.objects(values)
        header.n_nodes = nodes.count
        header.nodes = c.objects(nodes)
        header.input_value = UInt32(h.inputValue)
        header.output_value = UInt32(h.outputValue)
        header.arena_bytes = UInt64(h.arenaBytes)
        header.activations_total_bytes = UInt64(h.activationsTotalBytes)
        header.n_class_names = h.classNames.count
        header.class_names = c.array(h.classNames.map { Optional(c.string($0)) })
        header.has_classes_value = h.classesValue != nil ? 1 : 0
        header.classes_value = UInt32(h.classesValue ?? 0)
        if let d = h.detector { header.detector = DetectorCoding.encode(d, c) }
        header.weight_precision = Fgraph__WeightPrecision(rawValue: UInt32(WeightPrecision.allCases.firstIndex(of: h.weightPrecision)!))

        let size = fgraph__header__get_packed_size(&header)
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { fgraph__header__pack(&header, $0.baseAddress) }
        precondition(written == size, "protobuf-c packed \(written) of \(size) bytes")
        return bytes
    }
}

/// Stable enum <-> wire code tables (the order is the .proto numbering).
enum KernelCode {
    static let all: [Kernel?] = [nil, .conv2dDirect, .maxPool, .dense, .add, .softmax, .zeroPad, .relu, .avgPool, .conv2dWinogradF43]
    static func code(_ k: Kernel) -> UInt32 { UInt32(all.firstIndex(of: k)!) }
    static func kernel(_ code: UInt32) -> Kernel? { code < all.count ? all[Int(code)] : nil }
}

/// ElementType <-> wire code (.proto order; `ElementType.allCases` follows it).
enum ElementCode {
    static func code(_ t: ElementType) -> UInt32 { UInt32(ElementType.allCases.firstIndex(of: t)!) }
    static func type(_ raw: UInt32) -> ElementType? { raw < ElementType.allCases.count ? ElementType.allCases[Int(raw)] : nil }
}

enum LayoutCode {
    static let all: [TensorLayout] = [.plain, .hwioCoutPad8, .ioOutPad8, .vectorPad8, .winogradF43, .winogradF43C32, .hwioCoutBlock16]
}

enum MetricCode {
    static let all: [Metric] = [.cosine, .euclidean, .euclideanL2, .angular]
    static func code(_ m: Metric) -> Fgraph__Metric { Fgraph__Metric(rawValue: UInt32(all.firstIndex(of: m)!)) }
    static func metric(_ raw: UInt32) -> Metric? { raw < all.count ? all[Int(raw)] : nil }
}
