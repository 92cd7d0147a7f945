import FacecFormat
import FGraphSchema
#if canImport(Glibc)
import Glibc
#endif

/// The `fgraph-header` target's mutations (libFuzzer's custom mutator): a
/// model file is taken apart, one field of its decoded header (or a value
/// in its data, or a preamble word) is set to a value chosen to break a
/// rule, and the file is put back together with its checksums right. Byte
/// flips alone almost never get past the CRC-32C fields and the protobuf
/// decoder; these reach the semantic checks (shapes, the arena, the order
/// of nodes, thresholds, finite weights) and the kernels behind them.
enum HeaderMutator {
    /// libFuzzer's own byte mutation of a buffer (in the fuzzing build).
    typealias ByteMutation = (UnsafeMutablePointer<UInt8>, Int, Int) -> Int

    /// Mutates `size` bytes at `data` (room for `maxSize`); returns the new size.
    static func mutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, seed: UInt32,
                       bytes byteMutation: ByteMutation) -> Int {
        var rng = SplitMix(seed: UInt64(seed))
        guard var raw = RawModelFile(Array(UnsafeBufferPointer(start: data, count: size))) else {
            return byteMutation(data, size, maxSize)
        }
        switch rng.below(16) {
        case 0..<10:
            if !raw.editHeader({ edit($0, &rng) }) { raw.header = mutatedBytes(raw.header, byteMutation) }
        case 10, 11: raw.header = mutatedBytes(raw.header, byteMutation)
        case 12, 13: editData(&raw, &rng)
        case 14: editPreamble(&raw, &rng)
        default: return byteMutation(data, size, maxSize)   // unsealed: the checksum paths
        }
        let out = raw.sealed()
        guard out.count <= maxSize else { return byteMutation(data, size, maxSize) }
        out.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: out.count) }
        return out.count
    }

    private static func mutatedBytes(_ bytes: [UInt8], _ byteMutation: ByteMutation) -> [UInt8] {
        var buffer = bytes + [UInt8](repeating: 0, count: max(64, bytes.count / 4))
        let n = buffer.withUnsafeMutableBufferPointer { byteMutation($0.baseAddress!, bytes.count, $0.count) }
        return Array(buffer[0..<n])
    }

    // Values that sit on the edges the loader must check.
    static func small(_ rng: inout SplitMix) -> UInt32 {
        let edges: [UInt32] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 63, 64, 65, 255, 256, 4096, 8192, 8193, 65535, 65536, 65537,
                               1 << 24, 1 << 28, (1 << 28) + 1, 1 << 31, UInt32.max - 1, UInt32.max]
        return rng.below(4) == 0 ? UInt32(truncatingIfNeeded: rng.next()) % 1000 : edges[rng.below(edges.count)]
    }

    static func wide(_ rng: inout SplitMix, near current: UInt64) -> UInt64 {
        let edges: [UInt64] = [0, 1, 63, 64, 65, 4096, 1 << 20, 1 << 31, (1 << 31) + 64, 1 << 32, 1 << 40, 1 << 50, (1 << 50) + 1,
                               UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max - 63, UInt64.max]
        switch rng.below(5) {
        case 0: return current &+ 64
        case 1: return current &- 64
        case 2: return current &* 2
        default: return edges[rng.below(edges.count)]
        }
    }

    static func real(_ rng: inout SplitMix) -> Float {
        let edges: [Float] = [.nan, .infinity, -.infinity, -1, 0, -0.0, 1, 0.5, 1e38, -1e38, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        return edges[rng.below(edges.count)]
    }

    /// One field of the header, chosen at random.
    static func edit(_ h: UnsafeMutablePointer<Fgraph__Header>, _ rng: inout SplitMix) {
        let nodes = h.pointee.n_nodes, values = h.pointee.n_values, tensors = h.pointee.n_tensors
        func pickIndex(_ count: Int) -> UInt32 {
            switch rng.below(4) {
            case 0: return UInt32(truncatingIfNeeded: count)
            case 1: return UInt32(truncatingIfNeeded: max(0, count - 1))
            case 2: return small(&rng)
            default: return UInt32(rng.below(max(1, count)))
            }
        }
        switch rng.below(12) {
        case 0, 1, 2:   // a node's wiring or geometry
            guard nodes > 0, let n = h.pointee.nodes?[rng.below(nodes)] else { return }
            switch rng.below(14) {
            case 0: if n.pointee.n_inputs > 0 { n.pointee.inputs[rng.below(n.pointee.n_inputs)] = pickIndex(values) }
            case 1: n.pointee.output = pickIndex(values)
            case 2: if n.pointee.n_params > 0 { n.pointee.params[rng.below(n.pointee.n_params)] = pickIndex(tensors) }
            case 3: n.pointee.kernel = Fgraph__Kernel(rawValue: UInt32(rng.below(11)))
            case 4: n.pointee.activation = Fgraph__Activation(rawValue: UInt32(rng.below(3)))
            case 5: n.pointee.kernel_h = small(&rng)
            case 6: n.pointee.kernel_w = small(&rng)
            case 7: n.pointee.stride_h = small(&rng)
            case 8: n.pointee.stride_w = small(&rng)
            case 9: n.pointee.pad_top = small(&rng); n.pointee.pad_left = small(&rng)
            case 10: n.pointee.pad_bottom = small(&rng); n.pointee.pad_right = small(&rng)
            case 11: n.pointee.flops = wide(&rng, near: n.pointee.flops)
            case 12: if n.pointee.n_inputs > 0 { n.pointee.n_inputs -= 1 }
            default: if n.pointee.n_params > 0 { n.pointee.n_params -= 1 }
            }
        case 3:   // the order of the nodes
            guard nodes > 1, let list = h.pointee.nodes else { return }
            switch rng.below(3) {
            case 0:
                let a = rng.below(nodes), b = rng.below(nodes)
                let t = list[a]
                list[a] = list[b]
                list[b] = t
            case 1:
                var all = UnsafeMutableBufferPointer(start: list, count: nodes)
                all.reverse()
            default:   // the last node first (counts are never lowered: the dropped entries would leak)
                let last = list[nodes - 1]
                for i in stride(from: nodes - 1, to: 0, by: -1) { list[i] = list[i - 1] }
                list[0] = last
            }
        case 4, 5:   // a value's place in the arena or its shape
            guard values > 0, let v = h.pointee.values?[rng.below(values)] else { return }
            switch rng.below(5) {
            case 0: v.pointee.arena_offset = wide(&rng, near: v.pointee.arena_offset)
            case 1: v.pointee.arena_bytes = wide(&rng, near: v.pointee.arena_bytes)
            case 2: if v.pointee.n_shape > 0 { v.pointee.shape[rng.below(v.pointee.n_shape)] = small(&rng) }
            case 3: v.pointee.is_view = v.pointee.is_view == 0 ? 1 : 0
            default: if v.pointee.n_shape > 0 { v.pointee.n_shape -= 1 }
            }
        case 6:   // a tensor's place in the data or its shape and type
            guard tensors > 0, let t = h.pointee.tensors?[rng.below(tensors)] else { return }
            switch rng.below(5) {
            case 0: t.pointee.offset = wide(&rng, near: t.pointee.offset)
            case 1: t.pointee.length = wide(&rng, near: t.pointee.length)
            case 2: if t.pointee.n_shape > 0 { t.pointee.shape[rng.below(t.pointee.n_shape)] = small(&rng) }
            case 3: t.pointee.layout = Fgraph__TensorLayout(rawValue: UInt32(rng.below(7)))
            default: t.pointee.element_type = Fgraph__ElementType(rawValue: UInt32(rng.below(4)))
            }
        case 7:   // the header's own numbers
            switch rng.below(8) {
            case 0: h.pointee.arena_bytes = wide(&rng, near: h.pointee.arena_bytes)
            case 1: h.pointee.input_value = pickIndex(values)
            case 2: h.pointee.output_value = pickIndex(values)
            case 3: h.pointee.has_classes_value = 1; h.pointee.classes_value = pickIndex(values)
            case 4: h.pointee.activations_total_bytes = wide(&rng, near: h.pointee.activations_total_bytes)
            case 5: h.pointee.default_metric = Fgraph__Metric(rawValue: UInt32(rng.below(4)))
            default: h.pointee.weight_precision = Fgraph__WeightPrecision(rawValue: UInt32(rng.below(4)))
            }
        case 8:   // thresholds
            guard h.pointee.n_thresholds > 0, let t = h.pointee.thresholds?[rng.below(h.pointee.n_thresholds)] else { return }
            if rng.below(4) == 0 { t.pointee.metric = Fgraph__Metric(rawValue: UInt32(rng.below(4))) } else { t.pointee.value = real(&rng) }
        case 9:   // the input and output specs
            if let i = h.pointee.input, rng.below(2) == 0 {
                switch rng.below(6) {
                case 0: i.pointee.height = small(&rng)
                case 1: i.pointee.width = small(&rng)
                case 2: i.pointee.channels = small(&rng)
                case 3: i.pointee.scale = real(&rng)
                case 4: if i.pointee.n_mean > 0 { i.pointee.mean[rng.below(i.pointee.n_mean)] = real(&rng) }
                default: i.pointee.resize = Fgraph__ResizePolicy(rawValue: UInt32(rng.below(3)))
                }
            } else if let o = h.pointee.output {
                if rng.below(2) == 0 { o.pointee.dim = small(&rng) } else { o.pointee.l2_normalize = o.pointee.l2_normalize == 0 ? 1 : 0 }
            }
        case 10:   // a printed name gets a control character (in place)
            let controls: [CChar] = [0x0A, 0x0D, 0x1B, 0x07, 0x7F, 0x01]
            var names: [UnsafeMutablePointer<CChar>] = []
            if let m = h.pointee.model_name { names.append(m) }
            if nodes > 0, let n = h.pointee.nodes?[rng.below(nodes)], let name = n.pointee.name { names.append(name) }
            if h.pointee.n_class_names > 0, let c = h.pointee.class_names?[rng.below(h.pointee.n_class_names)] { names.append(c) }
            guard !names.isEmpty else { return }
            let s = names[rng.below(names.count)]
            let length = strlen(s)
            if length > 0 { s[rng.below(length)] = controls[rng.below(controls.count)] }
        default:   // the detector's parameters, when there is one
            guard let d = h.pointee.detector else { return }
            switch rng.below(4) {
            case 0: d.pointee.scale_factor = Double(real(&rng))
            case 1: d.pointee.min_neighbors = small(&rng)
            case 2: d.pointee.eye_scale_factor = [1.0, 1.0001, 1.01, 4, 4.1, -1][rng.below(6)]
            default: d.pointee.eye_min_neighbors = small(&rng)
            }
        }
    }

    /// A weight, bias or scale becomes NaN, an infinity, huge or zero.
    static func editData(_ raw: inout RawModelFile, _ rng: inout SplitMix) {
        guard raw.data.count >= 4 else { return }
        let at = rng.below(raw.data.count / 4) * 4
        let bits = real(&rng).bitPattern
        for k in 0..<4 { raw.data[at + k] = UInt8(truncatingIfNeeded: bits >> (8 * k)) }
    }

    /// Version, flags and the reserved word.
    static func editPreamble(_ raw: inout RawModelFile, _ rng: inout SplitMix) {
        let fields: [(at: Int, width: Int)] = [(8, 2), (10, 2), (12, 4), (60, 4)]
        let f = fields[rng.below(fields.count)]
        let v = rng.below(3) == 0 ? 0 : rng.next()
        for k in 0..<f.width { raw.preamble[f.at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
    }
}

/// A small fast generator (SplitMix64), seeded by libFuzzer.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}
