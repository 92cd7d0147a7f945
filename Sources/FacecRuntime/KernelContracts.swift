import FacecCore
import FacecFormat
import FacecKernels

/// One node of a model file being checked: its values and tensors, and the
/// checks every contract uses. Failures name the file, the node and its kernel.
struct NodeContext {
    let file: ModelFile
    let index: Int
    let node: NodeEntry
    let ins: [ValueEntry]
    let out: ValueEntry

    init(file: ModelFile, index: Int, node: NodeEntry) {
        self.file = file; self.index = index; self.node = node
        ins = node.inputs.map { file.header.values[$0] }
        out = file.header.values[node.output]
    }

    func fail(_ reason: String) -> FacecError {
        FacecError(.model, file.path, "invalid model: node \(index) '\(node.name)' (\(node.kernel.rawValue)): \(reason)")
    }

    func shape3(_ v: ValueEntry) throws -> (h: Int, w: Int, c: Int) {
        guard v.shape.count == 3 else { throw fail("expects an H×W×C value, found shape \(v.shape)") }
        return (v.shape[0], v.shape[1], v.shape[2])
    }

    func expectInputs(_ k: ClosedRange<Int>) throws {
        guard k.contains(ins.count) else { throw fail("has \(ins.count) inputs") }
    }

    func expectParams(_ k: Int) throws {
        guard node.params.count == k else { throw fail("has \(node.params.count) weight tensors, expected \(k)") }
    }

    func tensor(_ param: Int) -> TensorEntry { file.header.tensors[node.params[param]] }

    /// A float32 tensor (bias, scales, Winograd weights).
    func float32(_ param: Int, _ what: String) throws -> UnsafePointer<Float> {
        let t = tensor(param)
        guard t.elementType == .f32 else { throw fail("\(what) '\(t.name)' is \(t.elementType.rawValue), expected float32") }
        return UnsafePointer(file.tensor(node.params[param]).baseAddress!)
    }

    /// The weights of a direct convolution or dense layer: float32 or f16
    /// with [weights, bias], int8 with [weights, bias, scales].
    func packedWeights(outPadded: Int) throws -> PackedWeights {
        guard !node.params.isEmpty else { throw fail("has no weight tensors") }
        let t = tensor(0)
        try expectParams(t.elementType == .i8 ? 3 : 2)
        let raw = file.tensorBytes(node.params[0]).baseAddress!
        switch t.elementType {
        case .f32: return .f32(raw.assumingMemoryBound(to: Float.self))
        case .f16: return .f16(raw.assumingMemoryBound(to: Float16.self))
        case .i8:
            let sc = tensor(2)
            guard sc.shape == [outPadded], sc.layout == .vectorPad8 else {
                throw fail("int8 scales \(sc.shape) (\(sc.layout.rawValue)), expected [\(outPadded)] (vector_pad8)")
            }
            return .i8(raw.assumingMemoryBound(to: Int8.self), scales: try float32(2, "int8 scales"))
        }
    }

    /// A direct convolution's or dense layer's checked weights, and its bias
    /// (float32, `padded` long), into the step.
    func attach(_ packed: PackedWeights, padded: Int, to s: inout Step) throws {
        let b = tensor(1)
        guard b.shape == [padded] else { throw fail("bias shape \(b.shape), expected [\(padded)]") }
        s.packed = packed
        if case .f32(let p) = packed { s.weights = p }
        s.bias = try float32(1, "bias")
        s.paddedOut = padded
    }

    /// The input and output maps of a one-input spatial kernel, and the
    /// padded input's size.
    func spatial(_ s: inout Step) throws -> (i: (h: Int, w: Int, c: Int), o: (h: Int, w: Int, c: Int), ph: Int, pw: Int) {
        try expectInputs(1...1)
        let i = try shape3(ins[0]), o = try shape3(out)
        s.inShape = i; s.outShape = o
        return (i, o, i.h + node.padTop + node.padBottom, i.w + node.padLeft + node.padRight)
    }

    /// A sliding window (convolution or pooling) that fits the padded input
    /// and gives exactly the output's size.
    func window(_ g: (i: (h: Int, w: Int, c: Int), o: (h: Int, w: Int, c: Int), ph: Int, pw: Int)) throws {
        let n = node
        guard n.kernelH >= 1, n.kernelW >= 1, n.strideH >= 1, n.strideW >= 1, g.ph >= n.kernelH, g.pw >= n.kernelW else {
            throw fail("invalid kernel/stride/padding for input \(ins[0].shape)")
        }
        guard g.o.h == (g.ph - n.kernelH) / n.strideH + 1, g.o.w == (g.pw - n.kernelW) / n.strideW + 1 else {
            throw fail("output shape \(out.shape) does not follow from input \(ins[0].shape) and the geometry")
        }
    }
}

/// One contract per kernel: what a node must be for its kernel to stay inside
/// its buffers, and the `Step` fields the kernel reads, filled from it.
enum KernelContracts {
    static func zeroPad(_ c: NodeContext, _ s: inout Step) throws {
        let g = try c.spatial(&s)
        guard g.o == (g.ph, g.pw, g.i.c) else { throw c.fail("output shape \(c.out.shape) does not match the padded input") }
        try c.expectParams(0)
    }

    static func winograd(_ c: NodeContext, _ s: inout Step) throws {
        let g = try c.spatial(&s)
        try c.window(g)
        try c.expectParams(2)
        let n = c.node
        guard n.kernelH == 3, n.kernelW == 3, n.strideH == 1, n.strideW == 1 else {
            throw c.fail("Winograd F(4x4,3x3) needs a 3x3 stride-1 kernel")
        }
        let w = c.tensor(0), b = c.tensor(1)
        let cinPad = (g.i.c + 7) / 8 * 8, padded = (g.o.c + 7) / 8 * 8
        guard w.layout != .winogradF43 else {
            throw c.fail("Winograd weights in the 64-channel chunks of an earlier facec; convert the model again")
        }
        guard w.shape == [36, cinPad, padded], w.layout == .winogradF43C32 else {
            throw c.fail("weights \(w.shape) (\(w.layout.rawValue)) do not fit [36, \(cinPad), \(padded)]")
        }
        guard b.shape == [padded] else { throw c.fail("bias shape \(b.shape), expected [\(padded)]") }
        s.weights = try c.float32(0, "Winograd weights")
        s.bias = try c.float32(1, "bias")
        s.paddedOut = padded
    }

    static func directConvolution(_ c: NodeContext, _ s: inout Step) throws {
        let g = try c.spatial(&s)
        try c.window(g)
        let n = c.node, i = g.i, o = g.o
        let padded = (o.c + 7) / 8 * 8
        let packed = try c.packedWeights(outPadded: padded)
        let w = c.tensor(0)
        if w.layout == .hwioCoutBlock16 {
            let blocks = (o.c + 15) / 16, k = n.kernelH * n.kernelW * i.c
            guard w.shape == [blocks, k, 16], w.elementType != .i8, TensorLayout.blockedMap(height: o.h, width: o.w, strided: n.strideH * n.strideW > 1) else {
                throw c.fail("blocked weights \(w.shape) (\(w.elementType.rawValue)) do not fit [\(blocks), \(k), 16] or this map")
            }
            s.blockedWeights = true
        } else {
            guard w.shape == [n.kernelH, n.kernelW, i.c, padded], w.layout == .hwioCoutPad8 else {
                throw c.fail("weights \(w.shape) (\(w.layout.rawValue)) do not fit [\(n.kernelH), \(n.kernelW), \(i.c), \(padded)]")
            }
        }
        try c.attach(packed, padded: padded, to: &s)
    }

    static func pooling(_ c: NodeContext, _ s: inout Step) throws {
        let g = try c.spatial(&s)
        try c.window(g)
        try c.expectParams(0)
        let n = c.node
        guard g.o.c == g.i.c else { throw c.fail("pooling changes the channel count") }
        guard n.padTop < n.kernelH, n.padBottom < n.kernelH, n.padLeft < n.kernelW, n.padRight < n.kernelW else {
            throw c.fail("pooling padding must be smaller than the window")
        }
    }

    static func dense(_ c: NodeContext, _ s: inout Step) throws {
        try c.expectInputs(1...1)
        let inCount = c.ins[0].elementCount, outCount = c.out.elementCount, padded = (outCount + 7) / 8 * 8
        let packed = try c.packedWeights(outPadded: padded)
        let w = c.tensor(0)
        guard w.shape == [inCount, padded], w.layout == .ioOutPad8 else {
            throw c.fail("weights \(w.shape) do not fit [\(inCount), \(padded)]")
        }
        try c.attach(packed, padded: padded, to: &s)
        s.inShape = (1, 1, inCount); s.outShape = (1, 1, outCount)
    }

    static func add(_ c: NodeContext, _ s: inout Step) throws {
        try c.expectInputs(2...64)
        try c.expectParams(0)
        guard !c.ins.allSatisfy({ $0.elementCount == c.out.elementCount }) else { return }
        // dlib's add_prev: H×W×C inputs zero-extended to the output, which is
        // their largest size in each dimension.
        let o = try c.shape3(c.out)
        let shapes = try c.ins.map(c.shape3)
        guard (shapes.map(\.h).max()!, shapes.map(\.w).max()!, shapes.map(\.c).max()!) == o else {
            throw c.fail("adds values of shapes \(c.ins.map(\.shape)) into \(c.out.shape), which is not their largest extent")
        }
        s.addShapes = shapes
        s.outShape = o
    }

    static func elementwise(_ c: NodeContext, _ s: inout Step) throws {
        try c.expectInputs(1...1)
        try c.expectParams(0)
        guard c.ins[0].elementCount == c.out.elementCount else { throw c.fail("input and output sizes differ") }
        let last = c.out.shape.last!
        s.outShape = (1, c.out.elementCount / last, last)
    }
}
