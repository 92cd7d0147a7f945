import FacecDigest
import FacecMAT
import FacecCore
import FacecFormat
import FacecGraph

/// MatConvNet simplenn models (`vgg_face.mat` from Oxford: one `net` struct;
/// MatConvNet's tidied `vgg-face.mat`: top-level `layers` and `meta`), MAT v5,
/// v7 (compressed) via `MatV5File`, v7.3 (HDF5) via `MatV73File`. Layer structs are read by
/// field name (unknown fields ignored); filters are column-major
/// `[H W Cin Cout]`, the same index order as TF/Keras HWIO.
public enum MatConvNetImporter {
    public static func load(path: String, descriptor: VGGDescriptor = .fc7) throws -> (Graph, ModelDescription) {
        let file: MatSource = MatV73File.hasV73Header(path) ? try MatV73File(path: path) : try MatV5File(path: path)
        let names = try file.variableNames()
        let layers: MatNode, normalization: MatNode?, classes: MatNode?, layout: String
        if names.contains("net") {
            let net = try file.read("net")
            layers = try net.requiredField("layers")
            let meta = try net.field("meta")
            normalization = try net.field("normalization") ?? meta?.field("normalization")
            classes = try net.field("classes") ?? meta?.field("classes")
            layout = "net struct"
        } else if names.contains("layers") {
            layers = try file.read("layers")
            let meta = names.contains("meta") ? try file.read("meta") : nil
            normalization = try meta?.field("normalization")
            classes = try meta?.field("classes")
            layout = "layers + meta"
        } else {
            // At most 10 names: a hostile file may hold a million (one line, not megabytes).
            let listed = names.isEmpty ? "none" : names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", … (\(names.count) in all)" : "")
            throw FacecError(.weights, path, "no 'net' or 'layers' variable, so not a MatConvNet model (variables: \(listed))")
        }

        let input = try inputSpec(normalization)
        var g = Graph()
        var last = g.add("input", .input(height: input.height, width: input.width, channels: 3), [])
        var byName: [String: Int] = [:]
        var softmax: Int? = nil
        let entries: [MatNode]
        if layers.isCell {
            entries = try layers.cells()
        } else if layers.isStruct {
            // A struct array: every element shares the node; MatConvNetLayer indexes into it.
            entries = (0..<layers.count).map { _ in layers }
        } else {
            throw layers.fail("is a \(layers.className), expected a cell array of layer structs")
        }
        guard !entries.isEmpty else { throw layers.fail("has no layers") }
        for (i, entry) in entries.enumerated() {
            let layer = try MatConvNetLayer(entry, index: i, structIndex: layers.isCell ? 0 : i)
            let node: Int
            switch layer.type {
            case "conv":
                node = g.add(layer.name, .conv2d(try layer.convolution()), [last], weights: try layer.convWeights())
            case "relu":
                let leak = try layer.optionalDoubles("leak")?.first ?? 0
                guard leak == 0 else { throw layer.fail("leaky ReLU (leak \(leak)) is not supported") }
                node = g.add(layer.name, .activation(.relu), [last])
            case "pool":
                node = g.add(layer.name, try layer.pooling(), [last])
            case "dropout":
                node = g.add(layer.name, .dropout, [last])
            case "softmax":
                node = g.add(layer.name, .activation(.softmax), [last])
                softmax = node
            default:
                throw layer.fail("unsupported layer type '\(layer.type)'")
            }
            byName[layer.name] = node
            last = node
        }

        // fc7's embedding is taken after its ReLU, as deepface does.
        let outputLayer: Int
        switch descriptor {
        case .fc7:
            guard let fc7 = byName["fc7"] else { throw FacecError(.weights, path, "the network has no layer named 'fc7' (needed for --embedding fc7)") }
            outputLayer = byName["relu7"] ?? g.layers.indices.first { $0 > fc7 && g.layers[$0].op == .activation(.relu) && g.layers[$0].inputs == [fc7] } ?? fc7
        case .fc8:
            guard let fc8 = byName["fc8"] else { throw FacecError(.weights, path, "the network has no layer named 'fc8' (needed for --embedding fc8)") }
            outputLayer = fc8
        }
        let classNames = try classes.map(Self.classNames) ?? []
        let digest = try SHA256.hexDigestBytes(ofFile: path)
        var d = ModelDescription(
            name: "VGG-Face", input: input, outputLayer: outputLayer, l2Normalize: descriptor.l2Normalize,
            defaultMetric: .cosine, thresholds: descriptor.thresholds,
            provenance: Provenance(sourceFile: baseName(path), sourceSHA256: digest, sourceFormat: "matconvnet-mat (\(file.versionName), \(layout))",
                                   architecture: "simplenn layers", converterVersion: "facec \(facecVersion)"),
            classNames: classNames, classesLayer: classNames.isEmpty ? nil : softmax)
        d.outputName = descriptor.rawValue
        if let s = softmax, !classNames.isEmpty, case .conv2d(let a)? = g.layers.last(where: { if case .conv2d = $0.op { return true } else { return false } })?.op,
           a.filters != classNames.count {
            throw FacecError(.weights, path, "\(classNames.count) class names for \(a.filters) outputs of the last layer before '\(g.layers[s].name)'")
        }
        return (g, d)
    }

    /// `averageImage` is 3 values, or a whole image whose per-channel mean is
    /// used (noted in the model). MatConvNet feeds RGB 0..255 minus that mean,
    /// resized to imageSize (cnn_vgg_faces.m uses imresize without keeping aspect).
    static func inputSpec(_ n: MatNode?) throws -> InputSpec {
        var height = 224, width = 224
        var mean: [Float] = []
        var notes = ["MatConvNet: RGB, 0..255 minus averageImage, resized to imageSize (bilinear, aspect not kept)"]
        if let n {
            if let size = try n.field("imageSize") {
                let s = try size.integers(range: 1...8192)
                guard s.count >= 2 else { throw size.fail("expected [H W C], found \(s)") }
                height = s[0]; width = s[1]
                if s.count > 2 && s[2] != 3 { throw size.fail("the model takes \(s[2]) channels; facec supports 3") }
            }
            if let avg = try n.field("averageImage"), !avg.isEmpty {
                let values = try avg.doubles()
                if values.count == 3 {
                    mean = values.map { Float($0) }
                } else if values.count % 3 == 0 {
                    // Column-major H×W×3: channel c occupies the c-th third.
                    let plane = values.count / 3
                    mean = (0..<3).map { c in Float(values[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Double(plane)) }
                    notes.append("averageImage was a full \(avg.dims()) image; its per-channel mean is used")
                } else {
                    throw avg.fail("has \(values.count) values; expected 3 or an H×W×3 image")
                }
            }
            if let interp = try n.field("interpolation"), interp.isChar, let s = try? interp.string(), !s.isEmpty, s != "bilinear" {
                notes.append("the .mat asks for '\(s)' interpolation; facec resizes bilinearly")
            }
        }
        return InputSpec(height: height, width: width, channels: 3, colorOrder: .rgb, scale: 1, mean: mean,
                         resize: .stretch, note: notes.joined(separator: "; "))
    }

    static func classNames(_ classes: MatNode) throws -> [String] {
        guard let list = try classes.field("description") ?? classes.field("name"), !list.isEmpty else { return [] }
        // One element at a time: a v7.3 file opens each name as its own object.
        if list.isCell { return try (0..<list.cellCount()).map { try list.cell($0).string() } }
        if list.isChar {
            // A char matrix: one name per row (column-major storage).
            let d = list.dims(padTo: 2)
            let text = Array(try list.string())
            guard text.count == d[0] * d[1] else { throw list.fail("char matrix of \(d) holds \(text.count) characters") }
            return (0..<d[0]).map { r in String((0..<d[1]).map { text[r + d[0] * $0] }).trimmingTrailingSpaces() }
        }
        throw list.fail("is a \(list.className), expected a cell array of names")
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
