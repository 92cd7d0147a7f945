import FacecCore
import FacecFormat
import FacecKernels

/// Why a model file cannot be run; the structure passed the format checks but
/// a node's shapes do not fit its kernel.
struct PlanError: Error { let reason: String }

enum PlanBuilder {
    static func build(_ file: ModelFile) throws -> [Step] {
        let h = file.header
        var steps: [Step] = []
        for (index, n) in h.nodes.enumerated() {
            func fail(_ reason: String) -> FacecError {
                FacecError(.model, file.path, "invalid model: node \(index) '\(n.name)' (\(n.kernel.rawValue)): \(reason)")
            }
            let ins = n.inputs.map { h.values[$0] }
            let out = h.values[n.output]
            func shape3(_ v: ValueEntry) throws -> (h: Int, w: Int, c: Int) {
                guard v.shape.count == 3 else { throw fail("expects an H×W×C value, found shape \(v.shape)") }
                return (v.shape[0], v.shape[1], v.shape[2])
            }
            func expectInputs(_ k: ClosedRange<Int>) throws {
                guard k.contains(ins.count) else { throw fail("has \(ins.count) inputs") }
            }
            func expectParams(_ k: Int) throws {
                guard n.params.count == k else { throw fail("has \(n.params.count) weight tensors, expected \(k)") }
            }
            /// A float32 tensor (bias, scales, Winograd weights).
            func float32(_ param: Int, _ what: String) throws -> UnsafePointer<Float> {
                let t = h.tensors[n.params[param]]
                guard t.elementType == .f32 else { throw fail("\(what) '\(t.name)' is \(t.elementType.rawValue), expected float32") }
                return UnsafePointer(file.tensor(n.params[param]).baseAddress!)
            }
            /// The weights of a direct convolution or dense layer: float32 or
            /// f16 with [weights, bias], int8 with [weights, bias, scales].
            func packedWeights(outPadded: Int) throws -> PackedWeights {
                guard !n.params.isEmpty else { throw fail("has no weight tensors") }
                let t = h.tensors[n.params[0]]
                try expectParams(t.elementType == .i8 ? 3 : 2)
                let raw = file.tensorBytes(n.params[0]).baseAddress!
                switch t.elementType {
                case .f32: return .f32(raw.assumingMemoryBound(to: Float.self))
                case .f16: return .f16(raw.assumingMemoryBound(to: Float16.self))
                case .i8:
                    let sc = h.tensors[n.params[2]]
                    guard sc.shape == [outPadded], sc.layout == .vectorPad8 else {
                        throw fail("int8 scales \(sc.shape) (\(sc.layout.rawValue)), expected [\(outPadded)] (vector_pad8)")
                    }
                    return .i8(raw.assumingMemoryBound(to: Int8.self), scales: try float32(2, "int8 scales"))
                }
            }
            // A kernel must never write over what it reads.
            for v in ins where overlaps(v, out) && n.kernel != .relu {
                throw fail("output '\(out.name)' overlaps input '\(v.name)' in the arena")
            }
            guard !n.inputs.contains(h.inputValue) || n.output != h.inputValue else { throw fail("writes the model input") }
            var s = Step(kernel: n.kernel, name: n.name, inputs: ins.map(\.arenaOffset), output: out.arenaOffset,
                         inShape: (0, 0, 0), outShape: (0, 0, 0), count: out.elementCount)
            s.relu = n.activation == .relu
            s.kernelH = n.kernelH; s.kernelW = n.kernelW; s.strideH = n.strideH; s.strideW = n.strideW
            s.padTop = n.padTop; s.padLeft = n.padLeft; s.padBottom = n.padBottom; s.padRight = n.padRight

            switch n.kernel {
            case .conv2dDirect, .conv2dWinogradF43, .maxPool, .avgPool, .zeroPad:
                try expectInputs(1...1)
                let i = try shape3(ins[0]), o = try shape3(out)
                s.inShape = i; s.outShape = o
                let ph = i.h + n.padTop + n.padBottom, pw = i.w + n.padLeft + n.padRight
                if n.kernel == .zeroPad {
                    guard o == (ph, pw, i.c) else { throw fail("output shape \(out.shape) does not match the padded input") }
                    try expectParams(0)
                    break
                }
                guard n.kernelH >= 1, n.kernelW >= 1, n.strideH >= 1, n.strideW >= 1, ph >= n.kernelH, pw >= n.kernelW else {
                    throw fail("invalid kernel/stride/padding for input \(ins[0].shape)")
                }
                guard o.h == (ph - n.kernelH) / n.strideH + 1, o.w == (pw - n.kernelW) / n.strideW + 1 else {
                    throw fail("output shape \(out.shape) does not follow from input \(ins[0].shape) and the geometry")
                }
                if n.kernel == .conv2dWinogradF43 {
                    try expectParams(2)
                    guard n.kernelH == 3, n.kernelW == 3, n.strideH == 1, n.strideW == 1 else {
                        throw fail("Winograd F(4x4,3x3) needs a 3x3 stride-1 kernel")
                    }
                    let w = h.tensors[n.params[0]], b = h.tensors[n.params[1]]
                    let cinPad = (i.c + 7) / 8 * 8, padded = (o.c + 7) / 8 * 8
                    guard w.layout != .winogradF43 else {
                        throw fail("Winograd weights in the 64-channel chunks of an earlier facec; convert the model again")
                    }
                    guard w.shape == [36, cinPad, padded], w.layout == .winogradF43C32 else {
                        throw fail("weights \(w.shape) (\(w.layout.rawValue)) do not fit [36, \(cinPad), \(padded)]")
                    }
                    guard b.shape == [padded] else { throw fail("bias shape \(b.shape), expected [\(padded)]") }
                    s.weights = try float32(0, "Winograd weights")
                    s.bias = try float32(1, "bias")
                    s.paddedOut = padded
                } else if n.kernel == .conv2dDirect {
                    let padded = (o.c + 7) / 8 * 8
                    let packed = try packedWeights(outPadded: padded)
                    let w = h.tensors[n.params[0]], b = h.tensors[n.params[1]]
                    if w.layout == .hwioCoutBlock16 {
                        let blocks = (o.c + 15) / 16, k = n.kernelH * n.kernelW * i.c
                        guard w.shape == [blocks, k, 16], w.elementType != .i8, TensorLayout.blockedMap(height: o.h, width: o.w, strided: n.strideH * n.strideW > 1) else {
                            throw fail("blocked weights \(w.shape) (\(w.elementType.rawValue)) do not fit [\(blocks), \(k), 16] or this map")
                        }
                        s.blockedWeights = true
                    } else {
                        guard w.shape == [n.kernelH, n.kernelW, i.c, padded], w.layout == .hwioCoutPad8 else {
                            throw fail("weights \(w.shape) (\(w.layout.rawValue)) do not fit [\(n.kernelH), \(n.kernelW), \(i.c), \(padded)]")
                        }
                    }
                    guard b.shape == [padded] else { throw fail("bias shape \(b.shape), expected [\(padded)]") }
                    s.packed = packed
                    if case .f32(let p) = packed { s.weights = p }
                    s.bias = try float32(1, "bias")
                    s.paddedOut = padded
                } else {
                    try expectParams(0)
                    guard o.c == i.c else { throw fail("pooling changes the channel count") }
                    guard n.padTop < n.kernelH, n.padBottom < n.kernelH, n.padLeft < n.kernelW, n.padRight < n.kernelW else {
                        throw fail("pooling padding must be smaller than the window")
                    }
                }
            case .dense:
                try expectInputs(1...1)
                let inCount = ins[0].elementCount, outCount = out.elementCount, padded = (outCount + 7) / 8 * 8
                let packed = try packedWeights(outPadded: padded)
                let w = h.tensors[n.params[0]], b = h.tensors[n.params[1]]
                guard w.shape == [inCount, padded], w.layout == .ioOutPad8 else {
                    throw fail("weights \(w.shape) do not fit [\(inCount), \(padded)]")
                }
                guard b.shape == [padded] else { throw fail("bias shape \(b.shape), expected [\(padded)]") }
                s.packed = packed
                if case .f32(let p) = packed { s.weights = p }
                s.bias = try float32(1, "bias")
                s.paddedOut = padded
                s.inShape = (1, 1, inCount); s.outShape = (1, 1, outCount)
            case .add:
                try expectInputs(2...64)
                try expectParams(0)
                if !ins.allSatisfy({ $0.elementCount == out.elementCount }) {
                    // dlib's add_prev: H×W×C inputs zero-extended to the output,
                    // which is their largest size in each dimension.
                    let o = try shape3(out)
                    let shapes = try ins.map(shape3)
                    guard (shapes.map(\.h).max()!, shapes.map(\.w).max()!, shapes.map(\.c).max()!) == o else {
                        throw fail("adds values of shapes \(ins.map(\.shape)) into \(out.shape), which is not their largest extent")
                    }
                    s.addShapes = shapes
                    s.outShape = o
                }
            case .relu, .softmax:
                try expectInputs(1...1)
                try expectParams(0)
                guard ins[0].elementCount == out.elementCount else { throw fail("input and output sizes differ") }
                let last = out.shape.last!
                s.outShape = (1, out.elementCount / last, last)
            }
            let work = try expectedFlops(n, s, inputCount: ins.first?.elementCount ?? 0, fail)
            guard n.flops == work else { throw fail("claims \(n.flops) FLOPs; its shapes make \(work)") }
            steps.append(s)
        }
        return steps
    }

    /// 2 × multiply-adds, as the compiler counts them; 0 for nodes without
    /// multiply-adds. The stored count sizes thread splits and reports, so it
    /// must be the true one.
    private static func expectedFlops(_ n: NodeEntry, _ s: Step, inputCount: Int, _ fail: (String) -> FacecError) throws -> Int {
        let factors: [Int]
        switch n.kernel {
        case .conv2dDirect, .conv2dWinogradF43:
            factors = [2, s.outShape.h, s.outShape.w, s.outShape.c, n.kernelH, n.kernelW, s.inShape.c]
        case .dense: factors = [2, inputCount, s.outShape.c]
        default: return 0
        }
        var product = 1
        for f in factors {
            let (p, overflow) = product.multipliedReportingOverflow(by: f)
            guard !overflow else { throw fail("its work overflows a 64-bit count") }
            product = p
        }
        return product
    }

    private static func overlaps(_ a: ValueEntry, _ b: ValueEntry) -> Bool {
        a.arenaOffset < b.arenaOffset + b.arenaBytes && b.arenaOffset < a.arenaOffset + a.arenaBytes
    }
}
