import FacecCore
import Foundation
import FacecGraph

/// Builds the graph from a full-model file's `model_config` JSON, as tf-keras
/// (Keras 2 format) and Keras 3 write it, for Functional and Sequential models.
/// Weights are attached by layer name from the `/model_weights` group.
struct KerasModelConfig {
    let path: String
    let weights: [String: KerasLayerWeights]

    typealias JSON = [String: Any]

    func graph(from text: String) throws -> (graph: Graph, output: Int, name: String) {
        guard let data = text.data(using: .utf8),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? JSON else {
            throw FacecError(.weights, path, "model_config is not valid JSON")
        }
        let className = root["class_name"] as? String ?? "?"
        guard let config = root["config"] as? JSON, let layers = config["layers"] as? [JSON] else {
            throw FacecError(.weights, path, "model_config has no layer list (class \(className))")
        }
        let name = config["name"] as? String ?? "model"
        switch className {
        case "Sequential": return try sequential(layers, name: name)
        case "Functional", "Model": return try functional(config, layers, name: name)
        default: throw FacecError(.weights, path, "model_config describes a '\(className)', not a Functional or Sequential model")
        }
    }

    private func sequential(_ layers: [JSON], name: String) throws -> (Graph, Int, String) {
        var g = Graph()
        var last: Int
        if layers.first?["class_name"] as? String == "InputLayer" {
            last = try add(layers[0], inputs: [], to: &g)
        } else {
            // Keras 2 Sequential without an InputLayer: the first layer carries the shape.
            let first = (layers.first?["config"] as? JSON) ?? [:]
            last = g.add("input", try inputOp(first, layer: "input"), [])
        }
        for layer in layers.dropFirst(layers.first?["class_name"] as? String == "InputLayer" ? 1 : 0) {
            last = try add(layer, inputs: [last], to: &g)
        }
        try checkAllWeightsUsed(g)
        return (g, last, name)
    }

    private func functional(_ config: JSON, _ layers: [JSON], name: String) throws -> (Graph, Int, String) {
        var g = Graph()
        var pending = layers
        var indexOf: [String: Int] = [:]
        // Layers are listed in creation order, which can differ from data flow
        // order; add each once all its inputs exist.
        while !pending.isEmpty {
            var progressed = false
            var rest: [JSON] = []
            for layer in pending {
                let layerName = try self.name(of: layer)
                let inbound = try inboundLayers(layer, name: layerName)
                if inbound.allSatisfy({ indexOf[$0] != nil }) {
                    indexOf[layerName] = try add(layer, inputs: inbound.map { indexOf[$0]! }, to: &g)
                    progressed = true
                } else {
                    rest.append(layer)
                }
            }
            guard progressed else {
                let missing = try rest.map { try self.name(of: $0) }.joined(separator: ", ")
                throw FacecError(.weights, path, "model_config: layers with unresolvable inputs: \(missing)")
            }
            pending = rest
        }
        let outputs = historyNames(config["output_layers"] as Any)
        guard let outName = outputs.first, let out = indexOf[outName] else {
            throw FacecError(.weights, path, "model_config names no output layer that exists")
        }
        try checkAllWeightsUsed(g)
        return (g, out, name)
    }

    private func name(of layer: JSON) throws -> String {
        if let n = layer["name"] as? String { return n }
        if let n = (layer["config"] as? JSON)?["name"] as? String { return n }
        throw FacecError(.weights, path, "model_config has a layer without a name")
    }

    /// tf-keras: `[[["fc11",0,0,{}], ["fc12",0,0,{}]]]`; Keras 3:
    /// `[{"args": [... {"class_name": "__keras_tensor__", "config": {"keras_history": ["fc11",0,0]}} ...], "kwargs": {}}]`.
    private func inboundLayers(_ layer: JSON, name: String) throws -> [String] {
        guard let nodes = layer["inbound_nodes"] as? [Any], !nodes.isEmpty else { return [] }
        guard nodes.count == 1 else {
            throw FacecError(.weights, path, "layer '\(name)' is called \(nodes.count) times (shared layers are not supported)")
        }
        if let call = nodes[0] as? JSON {
            return kerasTensors(call["args"] as Any)
        }
        return historyNames(nodes[0])
    }

    private func kerasTensors(_ value: Any) -> [String] {
        if let d = value as? JSON {
            if d["class_name"] as? String == "__keras_tensor__",
               let history = (d["config"] as? JSON)?["keras_history"] as? [Any], let n = history.first as? String {
                return [n]
            }
            return d.values.flatMap { kerasTensors($0) }
        }
        if let a = value as? [Any] { return a.flatMap { kerasTensors($0) } }
        return []
    }

    /// `[["name", 0, 0, {}], ...]` or a flat `["name", 0, 0]`.
    private func historyNames(_ value: Any) -> [String] {
        guard let a = value as? [Any] else { return [] }
        if let n = a.first as? String { return [n] }
        return a.flatMap { historyNames($0) }
    }

    private func add(_ layer: JSON, inputs: [Int], to g: inout Graph) throws -> Int {
        let layerName = try name(of: layer)
        let cls = layer["class_name"] as? String ?? "?"
        let c = layer["config"] as? JSON ?? [:]
        func fail(_ reason: String) -> FacecError { FacecError(.weights, path, "layer '\(layerName)' (\(cls)): \(reason)") }
        func need(_ n: Int) throws { guard inputs.count == n else { throw fail("expects \(n) input(s), has \(inputs.count)") } }
        let op: LayerOp
        var w: [WeightTensor] = []
        switch cls {
        case "InputLayer":
            return g.add(layerName, try inputOp(c, layer: layerName), [])
        case "Conv2D", "Convolution2D":
            try need(1)
            try channelsLast(c, fail)
            guard ints(c["dilation_rate"]).allSatisfy({ $0 == 1 }) else { throw fail("dilated convolution is not supported") }
            guard (c["groups"] as? Int ?? 1) == 1 else { throw fail("grouped convolution is not supported") }
            let k = try pair(c["kernel_size"], "kernel_size", fail), s = try pair(c["strides"] ?? [1, 1], "strides", fail)
            let useBias = c["use_bias"] as? Bool ?? true
            op = .conv2d(Conv2DAttributes(filters: c["filters"] as? Int ?? 0, kernelH: k.0, kernelW: k.1, strideH: s.0, strideW: s.1,
                                          padding: try padding(c, fail), activation: try activation(c["activation"], fail), useBias: useBias))
            w = try layerWeights(layerName, count: useBias ? 2 : 1, fail)
        case "Dense":
            try need(1)
            let useBias = c["use_bias"] as? Bool ?? true
            op = .dense(units: c["units"] as? Int ?? 0, activation: try activation(c["activation"], fail), useBias: useBias)
            w = try layerWeights(layerName, count: useBias ? 2 : 1, fail)
        case "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D":
            try need(1)
            try channelsLast(c, fail)
            let p = try pair(c["pool_size"] ?? [2, 2], "pool_size", fail)
            let s = (c["strides"] == nil || c["strides"] is NSNull) ? p : try pair(c["strides"], "strides", fail)
            let attrs = PoolAttributes(poolH: p.0, poolW: p.1, strideH: s.0, strideW: s.1, padding: try padding(c, fail))
            op = cls.hasPrefix("Max") ? .maxPool(attrs) : .avgPool(attrs)
        case "ZeroPadding2D":
            try need(1)
            try channelsLast(c, fail)
            let (t, b, l, r) = try zeroPadding(c["padding"], fail)
            op = .zeroPad(top: t, bottom: b, left: l, right: r)
        case "Flatten":
            try need(1)
            try channelsLast(c, fail)
            op = .flatten
        case "Dropout":
            try need(1)
            op = .dropout
        case "Activation":
            try need(1)
            op = .activation(try activation(c["activation"], fail))
        case "ReLU":
            try need(1)
            let plain = (c["max_value"] == nil || c["max_value"] is NSNull) && (c["negative_slope"] as? Double ?? 0) == 0
                && (c["threshold"] as? Double ?? 0) == 0
            guard plain else { throw fail("only a plain ReLU (no max_value, slope or threshold) is supported") }
            op = .activation(.relu)
        case "Softmax":
            try need(1)
            op = .activation(.softmax)
        case "Add":
            guard inputs.count >= 2 else { throw fail("needs at least two inputs") }
            op = .add
        default:
            throw fail("unsupported layer class '\(cls)'")
        }
        return g.add(layerName, op, inputs, weights: w)
    }

    private func inputOp(_ c: JSON, layer: String) throws -> LayerOp {
        let shape = (c["batch_input_shape"] ?? c["batch_shape"]) as? [Any]
        guard let shape, shape.count == 4,
              let h = shape[1] as? Int, let w = shape[2] as? Int, let ch = shape[3] as? Int else {
            throw FacecError(.weights, path, "layer '\(layer)': the input shape must be [batch, H, W, C] with H, W, C known (found \(String(describing: shape)))")
        }
        guard ch == 3 else { throw FacecError(.weights, path, "layer '\(layer)': input has \(ch) channels; face models take 3 (BGR/RGB)") }
        guard (1...8192).contains(h), (1...8192).contains(w) else {
            throw FacecError(.weights, path, "layer '\(layer)': input size \(h)×\(w) is out of range")
        }
        return .input(height: h, width: w, channels: ch)
    }

    private func layerWeights(_ name: String, count: Int, _ fail: (String) -> FacecError) throws -> [WeightTensor] {
        guard let found = weights[name] else { throw fail("has no weights in the file's model_weights") }
        guard found.tensors.count == count else { throw fail("expected \(count) weight tensors, found \(found.tensors.count)") }
        return found.tensors
    }

    private func checkAllWeightsUsed(_ g: Graph) throws {
        let used = Set(g.layers.filter { !$0.weights.isEmpty }.map(\.name))
        if let extra = weights.keys.sorted().first(where: { !used.contains($0) }) {
            throw FacecError(.weights, path, "weights for layer '\(extra)' do not belong to any layer of model_config")
        }
    }

    private func activation(_ value: Any?, _ fail: (String) -> FacecError) throws -> ActivationKind {
        var name = value as? String
        if let d = value as? JSON { name = d["config"] as? String ?? (d["config"] as? JSON)?["name"] as? String }
        switch name ?? "linear" {
        case "linear": return .linear
        case "relu": return .relu
        case "softmax": return .softmax
        default: throw fail("unsupported activation '\(name ?? "?")' (supported: relu, softmax, linear)")
        }
    }

    private func padding(_ c: JSON, _ fail: (String) -> FacecError) throws -> Padding {
        switch (c["padding"] as? String ?? "valid").lowercased() {
        case "valid": return .valid
        case "same": return .same
        case let other: throw fail("unsupported padding '\(other)'")
        }
    }

    private func channelsLast(_ c: JSON, _ fail: (String) -> FacecError) throws {
        if let f = c["data_format"] as? String, f != "channels_last" { throw fail("data_format '\(f)' is not supported (channels_last only)") }
    }

    private func ints(_ v: Any?) -> [Int] {
        if let i = v as? Int { return [i] }
        return (v as? [Any])?.compactMap { $0 as? Int } ?? []
    }

    private func pair(_ v: Any?, _ what: String, _ fail: (String) -> FacecError) throws -> (Int, Int) {
        let xs = ints(v)
        let p = xs.count == 1 ? (xs[0], xs[0]) : xs.count == 2 ? (xs[0], xs[1]) : (0, 0)
        guard p.0 >= 1, p.1 >= 1, p.0 <= 1 << 14, p.1 <= 1 << 14 else { throw fail("invalid \(what) \(String(describing: v))") }
        return p
    }

    /// int, [sym_h, sym_w] or [[top, bottom], [left, right]].
    private func zeroPadding(_ v: Any?, _ fail: (String) -> FacecError) throws -> (Int, Int, Int, Int) {
        var r: (Int, Int, Int, Int)? = nil
        if let i = v as? Int { r = (i, i, i, i) }
        if let a = v as? [Any], a.count == 2 {
            if let h = a[0] as? Int, let w = a[1] as? Int { r = (h, h, w, w) }
            let hs = ints(a[0]), ws = ints(a[1])
            if hs.count == 2, ws.count == 2 { r = (hs[0], hs[1], ws[0], ws[1]) }
        }
        guard let r, [r.0, r.1, r.2, r.3].allSatisfy({ $0 >= 0 && $0 <= 1 << 14 }) else {
            throw fail("invalid padding \(String(describing: v))")
        }
        return r
    }
}
