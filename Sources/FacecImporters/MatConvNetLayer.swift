import FacecMAT
import FacecCore
import FacecGraph

/// One simplenn layer struct, read by field name (unknown fields ignored).
/// Errors name the layer's index, name and type.
struct MatConvNetLayer {
    let node: MatNode
    let index: Int
    let structIndex: Int
    let name: String
    let type: String

    init(_ node: MatNode, index: Int, structIndex: Int) throws {
        self.node = node
        self.index = index
        self.structIndex = structIndex
        guard node.isStruct else { throw node.fail("layer \(index + 1) is a \(node.className), expected a struct") }
        let nameField = try node.field("name", index: structIndex)
        name = try nameField.map { try $0.string() } ?? "layer\(index + 1)"
        guard let typeField = try node.field("type", index: structIndex) else {
            throw FacecError(.weights, node.file, "layer \(index + 1) '\(name)': missing field 'type'")
        }
        type = try typeField.string()
    }

    func fail(_ reason: String) -> FacecError {
        FacecError(.weights, node.file, "layer \(index + 1) '\(name)' (\(type)): \(reason)")
    }

    func field(_ name: String) throws -> MatNode? { try node.field(name, index: structIndex) }

    func optionalDoubles(_ name: String) throws -> [Double]? {
        guard let f = try field(name), !f.isEmpty else { return nil }
        do { return try f.doubles(max: 64) } catch { throw fail("field '\(name)': \(reasonOf(error))") }
    }

    func integers(_ name: String, default value: [Int], range: ClosedRange<Int> = 0...65_536) throws -> [Int] {
        guard let f = try field(name), !f.isEmpty else { return value }
        do { return try f.integers(range: range) } catch { throw fail("field '\(name)': \(reasonOf(error))") }
    }

    /// pad: scalar or [top bottom left right].
    func padding() throws -> Padding {
        let p = try integers("pad", default: [0])
        switch p.count {
        case 1: return .explicit(top: p[0], bottom: p[0], left: p[0], right: p[0])
        case 4: return .explicit(top: p[0], bottom: p[1], left: p[2], right: p[3])
        default: throw fail("field 'pad' has \(p.count) values; expected 1 or 4 [top bottom left right]")
        }
    }

    /// A scalar or [y x] pair (stride, pool size).
    func pair(_ name: String, default value: Int) throws -> (Int, Int) {
        let p = try integers(name, default: [value], range: 1...65_536)
        switch p.count {
        case 1: return (p[0], p[0])
        case 2: return (p[0], p[1])
        default: throw fail("field '\(name)' has \(p.count) values; expected 1 or 2")
        }
    }

    /// The filters and biases: `weights = {filters, biases}` (current
    /// MatConvNet) or the older separate `filters` / `biases` fields.
    private func parameters() throws -> (filters: MatNode, biases: MatNode?) {
        if let w = try field("weights"), w.isCell, w.count >= 1 {
            let cells = try w.cells()
            return (cells[0], cells.count > 1 && !cells[1].isEmpty ? cells[1] : nil)
        }
        if let f = try field("filters"), !f.isEmpty {
            return (f, try field("biases").flatMap { $0.isEmpty ? nil : $0 })
        }
        throw fail("missing field 'weights' (or the older 'filters')")
    }

    /// Filter dims [H W Cin Cout], trailing singletons restored.
    private func filterShape(_ filters: MatNode) throws -> [Int] {
        guard filters.isNumeric else { throw fail("filters are \(filters.className), expected single or double numbers") }
        let d = filters.dims()
        guard d.count >= 3, d.count <= 4 else {
            throw fail("filters are \(d.count)-D (\(d.map(String.init).joined(separator: "×"))); expected 4-D [H W Cin Cout]")
        }
        let shape = filters.dims(padTo: 4)
        guard shape.allSatisfy({ $0 >= 1 }) else { throw fail("filters have an empty dimension \(shape)") }
        return shape
    }

    func convolution() throws -> Conv2DAttributes {
        let (filters, _) = try parameters()
        let shape = try filterShape(filters)
        let dilate = try integers("dilate", default: [1], range: 1...65_536)
        guard dilate.allSatisfy({ $0 == 1 }) else { throw fail("dilated convolution (dilate \(dilate)) is not supported") }
        let (sy, sx) = try pair("stride", default: 1)
        return Conv2DAttributes(filters: shape[3], kernelH: shape[0], kernelW: shape[1], strideH: sy, strideW: sx,
                                padding: try padding(), activation: .linear, useBias: true)
    }

    /// The kernel as an HWIO tensor streamed from MATLAB's column-major data
    /// (`MatNode.streamHWIO`), and the bias (row or column) flattened.
    func convWeights() throws -> [WeightTensor] {
        let (filters, biases) = try parameters()
        let shape = try filterShape(filters)
        let Cout = shape[3]
        let layerName = name
        var kernel = WeightTensor(name: "\(name).filters", shape: shape) { sink in
            try filters.streamHWIO(into: sink)
        }
        kernel.release = { filters.releaseData() }   // written: do not hold the model twice
        var tensors = [kernel]
        if let biases {
            guard biases.isNumeric, biases.count == Cout else {
                throw fail("biases have \(biases.count) values (\(biases.className) \(biases.dims())); expected \(Cout)")
            }
            tensors.append(WeightTensor(name: "\(layerName).biases", shape: [Cout]) {
                try biases.withFloats { Array($0) }
            })
        } else {
            tensors.append(WeightTensor(name: "\(layerName).biases", shape: [Cout], values: [Float](repeating: 0, count: Cout)))
        }
        return tensors
    }

    func pooling() throws -> LayerOp {
        let method = try field("method").map { try $0.string() } ?? "max"
        let (ph, pw) = try pair("pool", default: 2)
        let (sy, sx) = try pair("stride", default: 1)
        let attrs = PoolAttributes(poolH: ph, poolW: pw, strideH: sy, strideW: sx, padding: try padding())
        switch method {
        case "max": return .maxPool(attrs)
        case "avg": return .avgPool(attrs)
        default: throw fail("unsupported pooling method '\(method)'")
        }
    }
}

/// The reason part of an importer error (without the file), for nesting.
func reasonOf(_ error: Error) -> String {
    (error as? FacecError)?.reason ?? "\(error)"
}
