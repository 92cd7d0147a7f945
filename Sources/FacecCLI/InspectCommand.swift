import FacecCore
import FacecFormat
import FacecKernels
import FacecRuntime

struct InspectCommand: Command {
    static let spec = CommandSpec(
        name: "inspect",
        abstract: "Show a model's compiled plan: nodes, fusions, shapes, kernels, arena offsets, FLOPs, sizes.",
        arguments: [.one("model", help: "The .fgraph model.")],
        options: [.flag(.json, help: "The same as JSON.")])

    let model: String
    let json: Bool

    init(_ a: ParsedArguments) throws {
        model = a.argument("model")
        json = a.flag(.json)
    }

    func run() throws {
        // Loaded as a run would load it: a model that cannot run is refused here too.
        let file = try Model(path: model).file
        let h = file.header
        if json { print(Self.json(h, file)) } else { print(Self.text(h, file)) }
    }

    static func shape(_ s: [Int]) -> String { s.map(String.init).joined(separator: "x") }

    static func text(_ h: ModelHeader, _ f: ModelFile) -> String {
        var out: [String] = []
        let i = h.input
        out.append("model      \(h.modelName)  (format \(f.preamble.major).\(f.preamble.minor), \(f.fileSize) bytes)")
        out.append("source     \(h.provenance.sourceFile) [\(h.provenance.sourceFormat), \(h.provenance.architecture)] sha256 \(hex(h.provenance.sourceSHA256)) by \(h.provenance.converterVersion)")
        let truncation = i.truncateToUInt8 ? ", x255 truncated to uint8, x\(i.postScale)" : ""
        out.append("input      \(i.height)x\(i.width)x\(i.channels) \(i.colorOrder.rawValue.uppercased()), x\(i.scale)\(truncation), mean \(i.mean.isEmpty ? "none" : "\(i.mean)"), resize \(i.resize.rawValue)")
        out.append("output     \(h.output.name) [\(h.output.dim)]\(h.output.l2Normalize ? " L2-normalised" : "")")
        let th = Metric.allCases.compactMap { m in h.thresholds[m].map { "\(m.rawValue) \($0)" } }.joined(separator: ", ")
        out.append("metric     \(h.defaultMetric.rawValue) (thresholds: \(th.isEmpty ? "none" : th))")
        out.append("weights    \(Self.precisionSummary(h))")
        if let activations = Self.activationSummary(h) { out.append("activations \(activations)") }
        if !h.classNames.isEmpty { out.append("classes    \(h.classNames.count)") }
        if let d = h.detector {
            func cascade(_ c: HaarCascade) -> String { "\(c.windowWidth)x\(c.windowHeight) window, \(c.stages.count) stages, \(c.stumps.count) stumps" }
            if let m = d.mtcnn {
                let nets = m.nets.map { n in "\(n.name) \(n.layers.count) layers" }.joined(separator: ", ")
                out.append("detector   mtcnn: \(nets) (min face \(m.minFaceSize), scale \(m.scaleFactor), thresholds \(m.thresholds.map { "\($0)" }.joined(separator: "/")))")
            } else {
                out.append("detector   \(d.kind): faces \(cascade(d.face)) (scale \(d.scaleFactor), neighbours \(d.minNeighbors)); eyes \(cascade(d.eye)) (scale \(d.eyeScaleFactor), neighbours \(d.eyeMinNeighbors))")
            }
            if !d.source.isEmpty { out.append("           from \(d.source)") }
        } else {
            out.append("detector   none (photos must be face crops)")
        }
        out.append("")
        out.append(pad("#", 3) + pad("node", 14) + pad("kernel", 15) + pad("in", 14) + pad("out", 12) + pad("geometry", 22) + pad("MFLOP", 10) + pad("weights", 14) + pad("arena", 18) + "fused")
        for (k, n) in h.nodes.enumerated() {
            let v = h.values[n.output]
            let ins = n.inputs.map { shape(h.values[$0].shape) }.joined(separator: "+")
            var geo = ""
            if n.kernelH > 0 {
                geo = "k\(n.kernelH)x\(n.kernelW) s\(n.strideH)x\(n.strideW)"
                if n.padTop + n.padBottom + n.padLeft + n.padRight > 0 { geo += " p\(n.padTop),\(n.padBottom),\(n.padLeft),\(n.padRight)" }
            }
            let arena = "\(v.arenaOffset)+\(v.arenaBytes)"
            let fused = n.fused.isEmpty ? "-" : n.fused.joined(separator: ", ")
            out.append(pad("\(k)", 3) + pad(n.name, 14) + pad(n.kernel.rawValue, 15) + pad(ins, 14) + pad(shape(v.shape), 12)
                       + pad(geo, 22) + pad(String(format1(Double(n.flops) / 1e6)), 10) + pad(Self.nodePrecision(n, h), 14)
                       + pad(arena, 18) + fused)
        }
        let views = h.values.filter(\.isView).map { "\($0.name) \(shape($0.shape))" }
        if !views.isEmpty { out.append("views (no copy): " + views.joined(separator: ", ")) }
        out.append("")
        out.append("total      \(format1(Double(h.totalFlops) / 1e6)) MFLOP, weights \(h.weightBytes) bytes in \(h.tensors.count) tensors")
        let ratio = h.activationsTotalBytes > 0 ? Double(h.arenaBytes) / Double(h.activationsTotalBytes) * 100 : 0
        out.append("arena      \(h.arenaBytes) bytes (sum of all activations \(h.activationsTotalBytes) bytes; \(format1(ratio))%)")
        out.append("this CPU   micro-kernels \(KernelISA.best.rawValue) (\(KernelISA.best.lanes) floats per vector; supported: "
                   + KernelISA.supported.map(\.rawValue).joined(separator: ", ") + ")")
        return out.joined(separator: "\n")
    }

    /// "int8 (asked); layers: 14 i8, 2 f16; ...": what `convert --weights`
    /// asked for, what each layer got, and the compiler's error estimate.
    static func precisionSummary(_ h: ModelHeader) -> String {
        var counts: [ElementType: Int] = [:]
        for n in h.nodes where !n.params.isEmpty { counts[h.tensors[n.params[0]].elementType, default: 0] += 1 }
        let layers = ElementType.allCases.compactMap { t in counts[t].map { "\($0) \(t.rawValue)" } }.joined(separator: ", ")
        var text = "\(h.weightPrecision.rawValue) (asked); layers: \(layers.isEmpty ? "none" : layers)"
        if h.weightPrecision != .f32 {
            let estimate = h.nodes.reduce(0.0) { $0 + Double($1.weightError) * Double($1.weightError) }.squareRoot()
            text += "; estimated output error \(format2(estimate * 100))% (root sum of squares of the layers' weight errors)"
        }
        return text
    }

    /// How the int8 convolutions run on this CPU: on 8-bit activations with
    /// VNNI or SDOT, or weight-only. nil when the model has no int8 convolution.
    static func activationSummary(_ h: ModelHeader) -> String? {
        let int8Convs = h.nodes.filter { n in n.kernel == .conv2dDirect && n.params.first.map { h.tensors[$0].elementType == .i8 } == true }
        guard !int8Convs.isEmpty else { return nil }
        if KernelISA.best.int8Activations {
            return "int8 per tensor, quantised per call, in the \(int8Convs.count) int8 convolutions (\(KernelISA.best == .neondot ? "this CPU has SDOT" : "this CPU has AVX-512 VNNI")); float32 elsewhere"
        }
        return "float32 (int8 weights widened in the kernels; 8-bit activations need AVX-512 VNNI or ARM's SDOT, and this CPU runs \(KernelISA.best.rawValue))"
    }

    /// A node's stored weight type and its measured error, e.g. "i8 0.41%".
    static func nodePrecision(_ n: NodeEntry, _ h: ModelHeader) -> String {
        guard let w = n.params.first else { return "-" }
        let t = h.tensors[w].elementType
        return t == .f32 ? "f32" : "\(t.rawValue) \(format2(Double(n.weightError) * 100))%"
    }

    static func json(_ h: ModelHeader, _ f: ModelFile) -> String {
        let i = h.input
        let nodes = h.nodes.map { n in
            JSONText.object([
                ("name", JSONText.string(n.name)), ("kernel", JSONText.string(n.kernel.rawValue)),
                ("inputs", "[" + n.inputs.map { JSONText.string(h.values[$0].name) }.joined(separator: ",") + "]"),
                ("input_shapes", "[" + n.inputs.map { "\(h.values[$0].shape)" }.joined(separator: ",") + "]"),
                ("output_shape", "\(h.values[n.output].shape)"),
                ("activation", JSONText.string(n.activation.rawValue)),
                ("kernel_size", "[\(n.kernelH),\(n.kernelW)]"), ("stride", "[\(n.strideH),\(n.strideW)]"),
                ("padding", "[\(n.padTop),\(n.padBottom),\(n.padLeft),\(n.padRight)]"),
                ("fused", "[" + n.fused.map(JSONText.string).joined(separator: ",") + "]"),
                ("flops", "\(n.flops)"),
                ("weight_bytes", "\(n.params.reduce(0) { $0 + h.tensors[$1].length })"),
                ("weight_type", n.params.first.map { JSONText.string(h.tensors[$0].elementType.rawValue) } ?? "null"),
                ("weight_error", JSONText.number(n.weightError)),
                ("arena_offset", "\(h.values[n.output].arenaOffset)"), ("arena_bytes", "\(h.values[n.output].arenaBytes)"),
            ])
        }
        let thresholds = JSONText.object(Metric.allCases.compactMap { m in h.thresholds[m].map { (m.rawValue, JSONText.number($0)) } })
        return JSONText.object([
            ("model", JSONText.string(h.modelName)),
            ("format_version", JSONText.string("\(f.preamble.major).\(f.preamble.minor)")),
            ("file_bytes", "\(f.fileSize)"),
            ("source", JSONText.object([
                ("file", JSONText.string(h.provenance.sourceFile)), ("sha256", JSONText.string(hex(h.provenance.sourceSHA256))),
                ("format", JSONText.string(h.provenance.sourceFormat)), ("architecture", JSONText.string(h.provenance.architecture)),
                ("converter", JSONText.string(h.provenance.converterVersion))])),
            ("input", JSONText.object([
                ("height", "\(i.height)"), ("width", "\(i.width)"), ("channels", "\(i.channels)"),
                ("color_order", JSONText.string(i.colorOrder.rawValue)), ("scale", JSONText.number(i.scale)),
                ("mean", JSONText.array(i.mean)), ("resize", JSONText.string(i.resize.rawValue)),
                ("truncate_to_uint8", i.truncateToUInt8 ? "true" : "false"), ("post_scale", JSONText.number(i.postScale))])),
            ("output", JSONText.object([
                ("name", JSONText.string(h.output.name)), ("dim", "\(h.output.dim)"),
                ("l2_normalize", h.output.l2Normalize ? "true" : "false")])),
            ("default_metric", JSONText.string(h.defaultMetric.rawValue)),
            ("thresholds", thresholds),
            ("classes", "\(h.classNames.count)"),
            ("detector", h.detector.map(detectorJSON) ?? "null"),
            ("nodes", "[" + nodes.joined(separator: ",") + "]"),
            ("views", "[" + h.values.filter(\.isView).map { JSONText.string($0.name) }.joined(separator: ",") + "]"),
            ("total_flops", "\(h.totalFlops)"),
            ("weight_bytes", "\(h.weightBytes)"),
            ("weight_precision", JSONText.string(h.weightPrecision.rawValue)),
            ("arena_bytes", "\(h.arenaBytes)"),
            ("activations_total_bytes", "\(h.activationsTotalBytes)"),
        ])
    }

    static func detectorJSON(_ d: DetectorSpec) -> String {
        func cascade(_ c: HaarCascade, _ scale: Double, _ neighbours: Int) -> String {
            JSONText.object([("window", "[\(c.windowWidth),\(c.windowHeight)]"), ("stages", "\(c.stages.count)"), ("stumps", "\(c.stumps.count)"),
                             ("scale_factor", JSONText.number(scale)), ("min_neighbors", "\(neighbours)")])
        }
        if let m = d.mtcnn {
            let nets = m.nets.map { n in (n.name, JSONText.object([("input_size", "\(n.inputSize)"), ("layers", "\(n.layers.count)")])) }
            return JSONText.object([("kind", JSONText.string(d.kind)), ("source", JSONText.string(d.source)),
                                    ("min_face_size", JSONText.number(m.minFaceSize)), ("scale_factor", JSONText.number(m.scaleFactor)),
                                    ("thresholds", "[" + m.thresholds.map(JSONText.number).joined(separator: ",") + "]")] + nets)
        }
        return JSONText.object([("kind", JSONText.string(d.kind)), ("source", JSONText.string(d.source)),
                                ("face", cascade(d.face, d.scaleFactor, d.minNeighbors)), ("eye", cascade(d.eye, d.eyeScaleFactor, d.eyeMinNeighbors))])
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    static func format1(_ x: Double) -> String { "\((x * 10).rounded() / 10)" }
    static func format2(_ x: Double) -> String { "\((x * 100).rounded() / 100)" }
    static func hex(_ b: [UInt8]) -> String {
        b.map { let s = String($0, radix: 16); return s.count == 1 ? "0" + s : s }.joined()
    }
}

struct CheckCommand: Command {
    static let spec = CommandSpec(
        name: "check",
        abstract: "Validate a model file completely: structure, checksums (header and data) and every kernel's shapes.",
        arguments: [.one("model", help: "The .fgraph model.")],
        options: [])

    let model: String

    init(_ a: ParsedArguments) throws { model = a.argument("model") }

    func run() throws {
        // Loading reads and checks everything (checksums, structure, finite
        // weights); building the runtime plan checks every kernel's contract.
        let file = try Model(path: model).file
        print("ok: \(model): \(file.header.modelName), format \(file.preamble.major).\(file.preamble.minor), \(file.fileSize) bytes, \(file.header.nodes.count) nodes, checksums valid")
    }
}
