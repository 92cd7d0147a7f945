import FacecDlib
import FacecCore
import FacecFormat
import FacecGraph

/// dlib's face recognition ResNet (`anet_type` of dlib's
/// examples/dnn_face_recognition_ex.cpp, the network in
/// dlib_face_recognition_resnet_model_v1.dat and deepface's "Dlib" model):
///
///     input_rgb_image_sized<150> → con 32 7×7/2 → affine → relu → max_pool 3×3/2
///     → alevel4: 3× ares 32 → alevel3: ares_down 64, 3× ares 64
///     → alevel2: ares_down 128, 2× ares 128 → alevel1: ares_down 256, 2× ares 256
///     → alevel0: ares_down 256 → avg_pool_everything → fc_no_bias 128
///
///     ares N (x)      = relu(x + B(con N 3×3/1 (x)))
///     ares_down N (x) = relu(avg_pool 2×2/2 (x) ⊕ B(con N 3×3/2 (x)))
///     where B(y) = affine(con N 3×3/1 (relu(affine(y)))), ⊕ = add_prev:
///     the smaller operand is zero-extended (channels 32→64…, and at 8×8 → the
///     block's 3×3 against the pool's 4×4).
///
/// dlib's convolutions pad k/2 when the stride is 1 and nothing otherwise
/// (`con_`'s default), so the 7×7/2 and 3×3/2 ones are unpadded, as are the
/// pools. Each `affine` (a batch norm frozen into y = γx + β per channel)
/// follows a convolution and is folded into its weights and bias here.
/// The file does not say which tag a skip or add_prev refers to (that is the
/// C++ type), so the file's layers are matched against this architecture one
/// by one, and any other network is refused naming the first difference.
enum DlibResNet {
    static let description = "dlib face recognition ResNet v1 (dnn_face_recognition_ex.cpp anet_type)"

    /// deepface's thresholds for "Dlib" (deepface/config/threshold.py).
    static let thresholds: [Metric: Float] = [.cosine: 0.07, .euclidean: 0.6, .euclideanL2: 0.4]

    static func build(_ net: DlibNetwork, path: String) throws -> (Graph, outputLayer: Int) {
        var b = Builder(net: net, path: path)
        guard net.input.rows == 150, net.input.columns == 150 else {
            throw FacecError(.weights, path, "the input is \(net.input.rows)×\(net.input.columns); dlib's face recognition ResNet takes 150×150")
        }
        var g = Graph()
        var x = g.add("input", .input(height: 150, width: 150, channels: 3), [])
        b.shape = (150, 150, 3)

        x = try b.conv(&g, "conv1", x, filters: 32, kernel: 7, stride: 2, relu: true)
        x = try b.pool(&g, "pool1", x, max: true, window: 3, stride: 2)
        let levels: [(width: Int, blocks: Int, down: Bool)] = [
            (32, 3, false), (64, 4, true), (128, 3, true), (256, 3, true), (256, 1, true),
        ]
        var block = 0
        for level in levels {
            for i in 0..<level.blocks {
                block += 1
                x = try b.residual(&g, "res\(block)", x, filters: level.width, down: level.down && i == 0)
            }
        }
        x = try b.pool(&g, "avg_pool", x, max: false, window: 0, stride: 1)
        x = g.add("flatten", .flatten, [x])
        x = try b.fc(&g, "fc", x, outputs: 128)
        guard b.next == net.layers.count else {
            throw FacecError(.weights, path, "the network has \(net.layers.count - b.next) layers more than dlib's face recognition ResNet")
        }
        return (g, x)
    }

    /// deepface's "Dlib" client (deepface/models/facial_recognition/dlib/Dlib.py)
    /// on deepface's aligned crop: resize_image to 150×150 (aspect kept, zero
    /// padding) of the /255 float image, BGR→RGB, `img * 255` in float32 then
    /// `astype(np.uint8)` (a truncation), then dlib's input layer
    /// `(pixel − avg[c]) / 256`. (x − m)/256 equals x·2⁻⁸ − m·2⁻⁸ exactly in
    /// float32, so it is recorded as a post-scale of 1/256 and a mean of m/256.
    static func describe(_ net: DlibNetwork, outputLayer: Int, provenance: Provenance) -> ModelDescription {
        let input = InputSpec(height: 150, width: 150, channels: 3, colorOrder: .rgb, scale: 1 / 255,
                              mean: net.input.mean.map { $0 / 256 }, resize: .keepAspectPad,
                              note: "deepface Dlib: RGB, /255, resize keeping aspect + zero padding, x255 truncated to uint8, then dlib's (x - mean)/256",
                              truncateToUInt8: true, postScale: 1 / 256)
        var d = ModelDescription(name: "Dlib", input: input, outputLayer: outputLayer, l2Normalize: false,
                                 defaultMetric: .cosine, thresholds: thresholds, provenance: provenance)
        d.outputName = "descriptor"
        return d
    }

    /// Walks the file's layers (input side first) while building the graph.
    private struct Builder {
        let net: DlibNetwork
        let path: String
        var next = 0
        var shape = (h: 0, w: 0, c: 0)

        init(net: DlibNetwork, path: String) { self.net = net; self.path = path }

        private func fail(_ what: String, _ found: String) -> FacecError {
            FacecError(.weights, path, "layer \(next + 1) of \(net.layers.count) (input side first): expected \(what) of dlib's face recognition ResNet, found \(found)")
        }

        private mutating func take(_ what: String) throws -> DlibNetwork.Layer {
            guard next < net.layers.count else {
                throw FacecError(.weights, path, "the network ends after \(net.layers.count) layers, before \(what) of dlib's face recognition ResNet")
            }
            defer { next += 1 }
            return net.layers[next]
        }

        private mutating func expect(_ kind: String) throws {
            let layer = try take(kind)
            let found: Bool
            switch (kind, layer) {
            case ("relu", .relu), ("add_prev", .addPrev), ("tag/skip", .tagOrSkip): found = true
            default: found = false
            }
            guard found else { next -= 1; throw fail(kind, layer.name) }
        }

        /// con N k×k/stride (dlib's padding), affine folded in, optional relu.
        mutating func conv(_ g: inout Graph, _ name: String, _ x: Int, filters: Int, kernel: Int, stride: Int, relu: Bool) throws -> Int {
            let pad = stride != 1 ? 0 : kernel / 2
            let want = "con \(filters) \(kernel)×\(kernel)/\(stride) padding \(pad)"
            let layer = try take(want)
            guard case .con(let n, let kh, let kw, let sy, let sx, let py, let px, let params, let useBias) = layer,
                  n == filters, kh == kernel, kw == kernel, sy == stride, sx == stride, py == pad, px == pad else {
                next -= 1
                if case .con(let n, let kh, let kw, let sy, _, let py, _, _, _) = layer {
                    throw fail(want, "con \(n) \(kh)×\(kw)/\(sy) padding \(py)")
                }
                throw fail(want, layer.name)
            }
            let cin = shape.c
            let weightCount = filters * cin * kernel * kernel
            guard params.count == weightCount + (useBias ? filters : 0) else {
                next -= 1
                throw fail(want + " on \(cin) channels (\(weightCount + filters) parameters)", "\(params.count) parameters")
            }
            let affineLayer = try take("affine")
            guard case .affine(let affine, let gammaShape, let mode) = affineLayer, mode == 0,
                  gammaShape == [1, filters, 1, 1], affine.count == 2 * filters else {
                next -= 1
                throw fail("affine (per channel) on \(filters) channels", affineLayer.name)
            }
            if relu { try expect("relu") }

            let stream = net.stream
            let kernelTensor = WeightTensor(name: name + "/kernel", shape: [kernel, kernel, cin, filters]) {
                // dlib's filters are [N][Cin][KH][KW]; facec's kernels HWIO.
                let w = stream.values(of: params, 0..<weightCount)
                let gamma = stream.values(of: affine, 0..<filters)
                var hwio = [Float](repeating: 0, count: weightCount)
                for o in 0..<filters {
                    for i in 0..<cin {
                        for ky in 0..<kernel {
                            for kx in 0..<kernel {
                                hwio[((ky * kernel + kx) * cin + i) * filters + o] = w[((o * cin + i) * kernel + ky) * kernel + kx] * gamma[o]
                            }
                        }
                    }
                }
                return hwio
            }
            let biasTensor = WeightTensor(name: name + "/bias", shape: [filters]) {
                let gamma = stream.values(of: affine, 0..<filters), beta = stream.values(of: affine, filters..<(2 * filters))
                let bias = useBias ? stream.values(of: params, weightCount..<(weightCount + filters)) : [Float](repeating: 0, count: filters)
                return (0..<filters).map { gamma[$0] * bias[$0] + beta[$0] }
            }
            let attributes = Conv2DAttributes(filters: filters, kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride,
                                              padding: .explicit(top: pad, bottom: pad, left: pad, right: pad),
                                              activation: relu ? .relu : .linear)
            shape = ((shape.h + 2 * pad - kernel) / stride + 1, (shape.w + 2 * pad - kernel) / stride + 1, filters)
            return g.add(name, .conv2d(attributes), [x], weights: [kernelTensor, biasTensor])
        }

        /// max_pool / avg_pool window×window/stride, unpadded; window 0 = everything.
        mutating func pool(_ g: inout Graph, _ name: String, _ x: Int, max: Bool, window: Int, stride: Int) throws -> Int {
            let want = (max ? "max_pool" : "avg_pool") + (window == 0 ? " over everything" : " \(window)×\(window)/\(stride)")
            let layer = try take(want)
            let geometry: DlibNetwork.PoolGeometry
            switch layer {
            case .maxPool(let p) where max: geometry = p
            case .avgPool(let p) where !max: geometry = p
            default: next -= 1; throw fail(want, layer.name)
            }
            guard geometry == .init(rows: window, columns: window, strideY: stride, strideX: stride, padY: 0, padX: 0) else {
                next -= 1
                throw fail(want, "\(layer.name) \(geometry.rows)×\(geometry.columns)/\(geometry.strideY) padding \(geometry.padY)")
            }
            let (kh, kw) = window == 0 ? (shape.h, shape.w) : (window, window)
            guard shape.h >= kh, shape.w >= kw else { throw fail(want, "an input of \(shape.h)×\(shape.w)") }
            let attributes = PoolAttributes(poolH: kh, poolW: kw, strideH: stride, strideW: stride)
            shape = ((shape.h - kh) / stride + 1, (shape.w - kw) / stride + 1, shape.c)
            return g.add(name, max ? .maxPool(attributes) : .avgPool(attributes), [x])
        }

        /// ares / ares_down: tag1, the block, (tag2, skip1, avg_pool), add_prev, relu.
        mutating func residual(_ g: inout Graph, _ name: String, _ x: Int, filters: Int, down: Bool) throws -> Int {
            let inputShape = shape
            try expect("tag/skip")
            let a = try conv(&g, name + "/conv_a", x, filters: filters, kernel: 3, stride: down ? 2 : 1, relu: true)
            let b = try conv(&g, name + "/conv_b", a, filters: filters, kernel: 3, stride: 1, relu: false)
            let blockShape = shape
            var skip = x
            if down {
                try expect("tag/skip")
                try expect("tag/skip")
                shape = inputShape
                skip = try pool(&g, name + "/skip_pool", x, max: false, window: 2, stride: 2)
            }
            try expect("add_prev")
            try expect("relu")
            shape = (Swift.max(blockShape.h, shape.h), Swift.max(blockShape.w, shape.w), Swift.max(blockShape.c, shape.c))
            let sum = g.add(name + "/add", .zeroExtendedAdd, [b, skip])
            return g.add(name + "/relu", .activation(.relu), [sum])
        }

        /// fc_no_bias: weights [In][Out], as facec's dense layers.
        mutating func fc(_ g: inout Graph, _ name: String, _ x: Int, outputs: Int) throws -> Int {
            let inputs = shape.h * shape.w * shape.c
            let want = "fc_no_bias \(outputs) on \(inputs) inputs"
            let layer = try take(want)
            guard case .fc(let o, let i, let params, let hasBias) = layer, o == outputs, i == inputs, !hasBias,
                  params.count == inputs * outputs else {
                next -= 1
                if case .fc(let o, let i, _, let hasBias) = layer { throw fail(want, "fc \(o) on \(i) inputs\(hasBias ? " with bias" : "")") }
                throw fail(want, layer.name)
            }
            let stream = net.stream
            let kernel = WeightTensor(name: name + "/kernel", shape: [inputs, outputs]) { stream.values(of: params, 0..<(inputs * outputs)) }
            shape = (1, 1, outputs)
            return g.add(name, .dense(units: outputs, activation: .linear, useBias: false), [x], weights: [kernel])
        }
    }
}
