import FGraphSchema
import FacecCore

/// DetectorSpec <-> the header's `Detector` message (format 1.1). Decoding
/// checks every count and index (`DetectorSpec.problem`), so the runtime
/// runs only cascades it can evaluate within bounds.
enum DetectorCoding {
    static func encode(_ d: DetectorSpec, _ c: CAllocations) -> UnsafeMutablePointer<Fgraph__Detector> {
        var m = Fgraph__Detector()
        fgraph__detector__init(&m)
        m.kind = c.string(d.kind)
        if let mtcnn = d.mtcnn {
            m.mtcnn = c.object(encode(mtcnn, c))
        } else {
            m.face = c.object(cascade(d.face, c))
            m.eye = c.object(cascade(d.eye, c))
        }
        m.scale_factor = d.scaleFactor
        m.min_neighbors = UInt32(d.minNeighbors)
        m.eye_scale_factor = d.eyeScaleFactor
        m.eye_min_neighbors = UInt32(d.eyeMinNeighbors)
        m.source = c.string(d.source)
        return c.object(m)
    }

    private static func cascade(_ h: HaarCascade, _ c: CAllocations) -> Fgraph__HaarCascade {
        var m = Fgraph__HaarCascade()
        fgraph__haar_cascade__init(&m)
        m.window_width = UInt32(h.windowWidth)
        m.window_height = UInt32(h.windowHeight)
        func put<T>(_ values: [T], _ n: inout Int, _ p: inout UnsafeMutablePointer<T>?) { n = values.count; p = c.array(values) }
        put(h.stages.map { UInt32($0.count) }, &m.n_stage_count, &m.stage_count)
        put(h.stages.map(\.threshold), &m.n_stage_threshold, &m.stage_threshold)
        put(h.stumps.map { UInt32($0.feature) }, &m.n_stump_feature, &m.stump_feature)
        put(h.stumps.map(\.threshold), &m.n_stump_threshold, &m.stump_threshold)
        put(h.stumps.map(\.left), &m.n_stump_left, &m.stump_left)
        put(h.stumps.map(\.right), &m.n_stump_right, &m.stump_right)
        put(h.features.map { UInt32($0.count) }, &m.n_feature_rects, &m.feature_rects)
        let rects = h.features.flatMap { $0 }
        put(rects.flatMap { [UInt32($0.x), UInt32($0.y), UInt32($0.width), UInt32($0.height)] }, &m.n_rects, &m.rects)
        put(rects.map(\.weight), &m.n_rect_weight, &m.rect_weight)
        return m
    }

    private static func encode(_ s: MTCNNSpec, _ c: CAllocations) -> Fgraph__Mtcnn {
        var m = Fgraph__Mtcnn()
        fgraph__mtcnn__init(&m)
        func net(_ n: MTCNNNet) -> UnsafeMutablePointer<Fgraph__MtcnnNet> {
            var mn = Fgraph__MtcnnNet()
            fgraph__mtcnn_net__init(&mn)
            mn.name = c.string(n.name)
            mn.input_size = UInt32(n.inputSize)
            let layers = n.layers.map { l -> Fgraph__MtcnnLayer in
                var ml = Fgraph__MtcnnLayer()
                fgraph__mtcnn_layer__init(&ml)
                ml.kind = Fgraph__MtcnnLayerKind(rawValue: UInt32(l.kind.rawValue))
                ml.kernel = UInt32(l.kernel); ml.stride = UInt32(l.stride)
                ml.same = l.same ? 1 : 0
                ml.out_channels = UInt32(l.outChannels)
                ml.weights = Int32(l.weights); ml.bias = Int32(l.bias); ml.alpha = Int32(l.alpha)
                return ml
            }
            mn.n_layers = layers.count
            mn.layers = c.objects(layers)
            return c.object(mn)
        }
        m.pnet = net(s.pnet); m.rnet = net(s.rnet); m.onet = net(s.onet)
        m.min_face_size = s.minFaceSize
        m.scale_factor = s.scaleFactor
        m.n_thresholds = s.thresholds.count
        m.thresholds = c.array(s.thresholds)
        return m
    }

    private static func decode(_ m: Fgraph__Mtcnn, _ fail: (String) -> FacecError) throws -> MTCNNSpec {
        func net(_ p: UnsafeMutablePointer<Fgraph__MtcnnNet>?, _ what: String) throws -> MTCNNNet {
            guard let n = p?.pointee else { throw fail("detector: MTCNN without its \(what)") }
            guard n.n_layers <= MTCNNSpec.maxLayers, n.input_size <= UInt32(MTCNNSpec.maxInputSize) else {
                throw fail("detector: MTCNN \(what) has \(n.n_layers) layers, input \(n.input_size)")
            }
            let layers = try (0..<n.n_layers).map { i -> MTCNNLayer in
                guard let l = n.layers[i]?.pointee, let kind = MTCNNLayer.Kind(rawValue: Int(l.kind.rawValue)) else {
                    throw fail("detector: MTCNN \(what) layer \(i + 1) of an unknown kind")
                }
                // Values past these bounds are refused by MTCNNSpec.problem; clamping keeps Int conversion safe.
                return MTCNNLayer(kind: kind, kernel: Int(min(l.kernel, 1 << 16)), stride: Int(min(l.stride, 1 << 16)), same: l.same != 0,
                                  outChannels: Int(min(l.out_channels, 1 << 20)), weights: Int(l.weights), bias: Int(l.bias), alpha: Int(l.alpha))
            }
            return MTCNNNet(name: try HeaderDecoding.text(n.name, "MTCNN network name", fail), inputSize: Int(n.input_size), layers: layers)
        }
        guard m.n_thresholds <= 16 else { throw fail("detector: MTCNN has \(m.n_thresholds) thresholds") }
        return MTCNNSpec(pnet: try net(m.pnet, "P-Net"), rnet: try net(m.rnet, "R-Net"), onet: try net(m.onet, "O-Net"),
                         minFaceSize: m.min_face_size, scaleFactor: m.scale_factor,
                         thresholds: (0..<m.n_thresholds).map { m.thresholds[$0] })
    }

    static func decode(_ m: Fgraph__Detector, tensors: [TensorEntry]?, _ fail: (String) -> FacecError) throws -> DetectorSpec {
        if string(m.kind) == "mtcnn" {
            guard let mtcnn = m.mtcnn, m.face == nil, m.eye == nil else { throw fail("detector: mtcnn without its networks, or with cascades") }
            let spec = DetectorSpec(mtcnn: try decode(mtcnn.pointee, fail), source: string(m.source))
            if let p = spec.problem(tensors: tensors) { throw fail("detector: \(p)") }
            if let bad = HeaderDecoding.controlCharacter(in: spec.source) { throw fail("detector: its source holds the control character \(bad)") }
            return spec
        }
        guard m.mtcnn == nil else { throw fail("detector: a '\(string(m.kind))' detector carrying MTCNN networks") }
        guard let face = m.face, let eye = m.eye else { throw fail("detector without its face and eye cascades") }
        let spec = DetectorSpec(kind: string(m.kind), face: try cascade(face.pointee, "face", fail), eye: try cascade(eye.pointee, "eye", fail),
                                scaleFactor: m.scale_factor, minNeighbors: Int(m.min_neighbors),
                                eyeScaleFactor: m.eye_scale_factor, eyeMinNeighbors: Int(m.eye_min_neighbors),
                                source: string(m.source))
        if let p = spec.problem() { throw fail("detector: \(p)") }
        for (what, text) in [("kind", spec.kind), ("source", spec.source)] {
            if let bad = HeaderDecoding.controlCharacter(in: text) { throw fail("detector: its \(what) holds the control character \(bad)") }
        }
        return spec
    }

    private static func cascade(_ m: Fgraph__HaarCascade, _ what: String, _ fail: (String) -> FacecError) throws -> HaarCascade {
        func get<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> [T] {
            guard let p, n > 0 else { return [] }
            return Array(UnsafeBufferPointer(start: p, count: n))
        }
        let limit = HaarCascade.maxStumps
        guard m.n_stage_count == m.n_stage_threshold, m.n_stage_count <= HaarCascade.maxStages,
              m.n_stump_feature == m.n_stump_threshold, m.n_stump_feature == m.n_stump_left, m.n_stump_feature == m.n_stump_right,
              m.n_stump_feature <= limit, m.n_feature_rects <= limit, m.n_rect_weight <= 3 * limit, m.n_rects == 4 * m.n_rect_weight else {
            throw fail("\(what) cascade: its arrays have inconsistent lengths")
        }
        let stages = zip(get(m.stage_count, m.n_stage_count), get(m.stage_threshold, m.n_stage_threshold))
            .map { HaarCascade.Stage(count: Int($0), threshold: $1) }
        let stumps = (0..<m.n_stump_feature).map {
            HaarCascade.Stump(feature: Int(m.stump_feature[$0]), threshold: m.stump_threshold[$0], left: m.stump_left[$0], right: m.stump_right[$0])
        }
        let counts = get(m.feature_rects, m.n_feature_rects).map(Int.init)
        guard counts.allSatisfy({ (1...3).contains($0) }), counts.reduce(0, +) == m.n_rect_weight else {
            throw fail("\(what) cascade: its features and rectangles do not match")
        }
        let coords = get(m.rects, m.n_rects).map(Int.init), weights = get(m.rect_weight, m.n_rect_weight)
        var features: [[HaarCascade.Rect]] = [], k = 0
        for n in counts {
            features.append((0..<n).map { j in
                let r = k + j
                return HaarCascade.Rect(x: coords[4 * r], y: coords[4 * r + 1], width: coords[4 * r + 2], height: coords[4 * r + 3], weight: weights[r])
            })
            k += n
        }
        return HaarCascade(windowWidth: Int(m.window_width), windowHeight: Int(m.window_height), stages: stages, stumps: stumps, features: features)
    }

    private static func string(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
}

extension DetectorSpec {
    /// The detector as a standalone `Detector` message (the bytes a model
    /// file's header holds), e.g. for the fuzzer's seed.
    public func encodedMessage() -> [UInt8] {
        let c = CAllocations()
        let m = DetectorCoding.encode(self, c)
        var out = [UInt8](repeating: 0, count: fgraph__detector__get_packed_size(m))
        _ = out.withUnsafeMutableBufferPointer { fgraph__detector__pack(m, $0.baseAddress) }
        return out
    }

    /// Decodes and validates a standalone `Detector` message, as the loader
    /// does inside a header (`name` is what errors quote).
    public init(message bytes: UnsafeRawBufferPointer, name: String) throws {
        guard let m = fgraph__detector__unpack(nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)) else {
            throw FacecError(.model, name, "malformed detector message")
        }
        defer { fgraph__detector__free_unpacked(m, nil) }
        self = try DetectorCoding.decode(m.pointee, tensors: nil) { FacecError(.model, name, $0) }
    }
}
