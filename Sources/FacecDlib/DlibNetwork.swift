import FacecCore
/// A dlib DNN file (`serialize(net)` of a `loss_*<…<input_*>>` network type) as
/// a flat list of layers, input side first.
///
/// dlib writes a network recursively from the loss layer inwards: each
/// `add_layer` writes its version (2), then its whole subnetwork, then its own
/// layer ("details") and training state; tag and skip layers write version 1
/// and their subnetwork; the innermost `add_layer` (version 3) writes the input
/// layer first (dlib/dnn/core.h). So the file holds every wrapper's version
/// from the outside in, the input layer, and then the layers' details from the
/// inside out. Which tag a skip or `add_prev` refers to is part of the C++
/// type, not of the file: a translator that knows the architecture supplies it.
package struct DlibNetwork {
    package struct Input {
        package var name: String
        package var mean: [Float]          // avg_red, avg_green, avg_blue
        package var rows: Int, columns: Int
    }

    package enum Layer {
        /// `con_`: params = filters [N][Cin][KH][KW] (dlib's NCHW) then N biases.
        case con(filters: Int, kernelH: Int, kernelW: Int, strideY: Int, strideX: Int,
                 padY: Int, padX: Int, params: DlibTensor, useBias: Bool)
        /// `affine_`: params = gamma then beta; mode 0 = per channel (CONV_MODE).
        case affine(params: DlibTensor, gamma: [Int], mode: Int)
        case relu
        case maxPool(PoolGeometry)
        case avgPool(PoolGeometry)
        /// Adds the output of a tagged layer (zero-extending to the larger shape).
        case addPrev
        /// `fc_`: params = weights [In][Out] (plus one bias row when biased).
        case fc(outputs: Int, inputs: Int, params: DlibTensor, hasBias: Bool)
        /// A tag or skip layer (indistinguishable in the file).
        case tagOrSkip

        package var name: String {
            switch self {
            case .con: return "con"
            case .affine: return "affine"
            case .relu: return "relu"
            case .maxPool: return "max_pool"
            case .avgPool: return "avg_pool"
            case .addPrev: return "add_prev"
            case .fc: return "fc"
            case .tagOrSkip: return "tag/skip"
            }
        }
    }

    package struct PoolGeometry: Equatable {
        /// 0 × 0 means the whole input (`*_pool_everything`).
        package var rows: Int, columns: Int, strideY: Int, strideX: Int, padY: Int, padX: Int

        package init(rows: Int, columns: Int, strideY: Int, strideX: Int, padY: Int, padX: Int) {
            self.rows = rows; self.columns = columns; self.strideY = strideY; self.strideX = strideX; self.padY = padY; self.padX = padX
        }
    }

    package var loss: String
    package var input: Input
    package var layers: [Layer]
    package let stream: DlibStream

    /// Parses the whole file; refuses anything that is not a dlib network of
    /// the layer types facec knows, naming what it found.
    package init(bytes: [UInt8]) throws {
        var s = DlibStream(bytes)
        let version = try s.int32("the loss layer's version")
        guard version == 1 else {
            throw ReadFault("not a dlib network file: it does not start with a loss layer (version \(version))")
        }
        // A shape predictor (shape_predictor_*.dat) starts with version 1 and
        // then a matrix whose sizes dlib writes negated.
        if s.remaining > 0, s.bytes[s.offset] & 0x80 != 0 {
            throw ReadFault("this is a dlib shape predictor (face landmarks, shape_predictor_*.dat), not a network")
        }
        loss = try s.string("the loss layer's name", maxLength: 64)
        switch loss {
        case "loss_metric_": break
        case "loss_metric_2":
            _ = try s.float("the loss margin")
            _ = try s.float("the loss distance threshold")
        case let other where other.hasPrefix("loss_mmod"):
            throw ReadFault("this is a dlib object detector (loss layer '\(other)', e.g. mmod_human_face_detector.dat), not a face recognition network")
        case let other:
            throw ReadFault("a dlib network with the loss layer '\(other)'; facec reads dlib's face recognition ResNet (loss_metric)")
        }

        // The wrappers' versions, outermost first, down to the input's add_layer.
        var wrappers: [Bool] = []          // true: add_layer, false: tag/skip
        while true {
            let at = s.offset
            let v = try s.int32("a layer's version")
            if v == 3 { break }
            guard v == 1 || v == 2 else { throw ReadFault("unexpected layer version \(v) at byte \(at)") }
            wrappers.append(v == 2)
        }

        let inputName = try s.string("the input layer's name", maxLength: 64)
        guard inputName == "input_rgb_image_sized" else {
            throw ReadFault("the network's input layer is '\(inputName)'; facec reads networks on input_rgb_image_sized (fixed-size RGB images)")
        }
        let mean = try (0..<3).map { _ in try s.float("the input mean") }
        let rows = try s.int64("the input rows"), columns = try s.int64("the input columns")
        guard mean.allSatisfy(\.isFinite), (1...4096).contains(rows), (1...4096).contains(columns) else {
            throw ReadFault("the input layer's mean \(mean) or size \(rows)×\(columns) is invalid")
        }
        input = Input(name: inputName, mean: mean, rows: rows, columns: columns)

        // The innermost layer, with the input add_layer's training state.
        var layers = [try Self.details(&s)]
        try Self.skipState(&s, tensors: 3)
        _ = try s.uint64("the sample expansion factor")
        for isLayer in wrappers.reversed() {
            if isLayer {
                layers.append(try Self.details(&s))
                try Self.skipState(&s, tensors: 3)
            } else {
                layers.append(.tagOrSkip)
            }
        }
        guard s.atEnd else { throw ReadFault("\(s.remaining) bytes follow the network") }
        self.layers = layers
        self.stream = s
    }

    /// this_layer_setup_called, gradient_input_is_stale,
    /// get_output_and_gradient_input_disabled, then training tensors.
    private static func skipState(_ s: inout DlibStream, tensors: Int) throws {
        for _ in 0..<3 { _ = try s.bool("a layer's state flag") }
        for _ in 0..<tensors { _ = try s.tensor("a layer's training state") }
    }

    private static func details(_ s: inout DlibStream) throws -> Layer {
        let at = s.offset
        let name = try s.string("a layer's name", maxLength: 64)
        switch name {
        case "con_4", "con_5", "con_6":
            let params = try s.tensor("\(name) parameters")
            let filters = try s.int64("\(name) filters")
            let kh = try s.int64("\(name) rows"), kw = try s.int64("\(name) columns")
            let sy = try s.int32("\(name) stride"), sx = try s.int32("\(name) stride")
            let py = try s.int32("\(name) padding"), px = try s.int32("\(name) padding")
            _ = try s.aliasTensor("\(name) filters view")
            _ = try s.aliasTensor("\(name) biases view")
            for _ in 0..<4 { _ = try s.float("\(name) learning rate multiplier") }
            var useBias = true
            if name != "con_4" { useBias = try s.bool("\(name) use_bias") }
            if name == "con_6", try s.bool("\(name) use_relu") {
                throw ReadFault("\(name) at byte \(at) has a built-in ReLU (use_relu), which facec does not read")
            }
            return .con(filters: filters, kernelH: kh, kernelW: kw, strideY: sy, strideX: sx, padY: py, padX: px,
                        params: params, useBias: useBias)
        case "affine_", "affine_2":
            let params = try s.tensor("affine parameters")
            let gamma = try s.aliasTensor("affine gamma view")
            _ = try s.aliasTensor("affine beta view")
            let mode = try s.int32("affine mode")
            if name == "affine_2", try s.bool("affine disabled") {
                throw ReadFault("a disabled affine layer at byte \(at), which facec does not read")
            }
            return .affine(params: params, gamma: gamma, mode: mode)
        case "relu_":
            return .relu
        case "relu_2":
            if try s.bool("relu disabled") { throw ReadFault("a disabled relu layer at byte \(at), which facec does not read") }
            return .relu
        case "max_pool_2", "avg_pool_2":
            let nr = try s.int64("\(name) rows"), nc = try s.int64("\(name) columns")
            let sy = try s.int32("\(name) stride"), sx = try s.int32("\(name) stride")
            let py = try s.int32("\(name) padding"), px = try s.int32("\(name) padding")
            let g = PoolGeometry(rows: nr, columns: nc, strideY: sy, strideX: sx, padY: py, padX: px)
            return name == "max_pool_2" ? .maxPool(g) : .avgPool(g)
        case "add_prev_":
            return .addPrev
        case "fc_2", "fc_3":
            let outputs = try s.uint64("fc outputs"), inputs = try s.uint64("fc inputs")
            let params = try s.tensor("fc parameters")
            _ = try s.aliasTensor("fc weights view")
            _ = try s.aliasTensor("fc biases view")
            let biasMode = try s.int32("fc bias mode")
            for _ in 0..<4 { _ = try s.float("fc learning rate multiplier") }
            var useBias = true
            if name == "fc_3" { useBias = try s.bool("fc use_bias") }
            guard biasMode == 0 || biasMode == 1 else { throw ReadFault("fc bias mode \(biasMode) at byte \(at) is unknown") }
            return .fc(outputs: outputs, inputs: inputs, params: params, hasBias: biasMode == 0 && useBias)
        case "bn_con2", "bn_fc2":
            throw ReadFault("a batch normalisation layer ('\(name)' at byte \(at)): this is a training network; save the inference network (affine layers), as dlib's examples do")
        default:
            throw ReadFault("the layer '\(name)' at byte \(at) is not one facec reads (con, affine, relu, max_pool, avg_pool, add_prev, fc)")
        }
    }
}
