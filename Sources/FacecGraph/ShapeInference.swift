import FacecCore
import FacecFormat

/// Computes every node's output shape ([H, W, C] or [N]) and checks that the
/// weights fit: a mismatch names the layer, the expected and the found shape.
/// SAME/VALID paddings are resolved into explicit pads here.
enum ShapeInference {
    static func run(_ g: inout PlanGraph, input: InputSpec) throws {
        for i in g.nodes.indices {
            var n = g.nodes[i]
            let ins = n.inputs.map { g.nodes[$0].shape }
            func fail(_ reason: String) -> FacecError { FacecError(.graph, "layer '\(n.name)'", reason) }
            func spatial(_ s: [Int]) throws -> (h: Int, w: Int, c: Int) {
                guard s.count == 3 else { throw fail("expects an H×W×C input, got shape \(s)") }
                return (s[0], s[1], s[2])
            }
            switch n.kind {
            case .input:
                n.shape = [input.height, input.width, input.channels]
            case .identity, .relu, .softmax:
                n.shape = ins[0]
            case .flatten:
                n.shape = [ins[0].reduce(1, *)]
            case .add:
                guard ins.allSatisfy({ $0 == ins[0] }) else { throw fail("Add of different shapes \(ins)") }
                n.shape = ins[0]
            case .zeroExtendedAdd:
                let dims = try ins.map(spatial)
                n.shape = [dims.map(\.h).max()!, dims.map(\.w).max()!, dims.map(\.c).max()!]
            case .zeroPad(let g):
                let (h, w, c) = try spatial(ins[0])
                n.shape = [h + g.padTop + g.padBottom, w + g.padLeft + g.padRight, c]
            case .conv(var geo):
                let (h, w, c) = try spatial(ins[0])
                guard n.weights.count >= 1 else { throw fail("convolution without weights") }
                let kernel = n.weights[0].shape
                guard kernel.count == 4, kernel[0] == geo.kernelH, kernel[1] == geo.kernelW, kernel[2] == c else {
                    throw fail("kernel shape: expected [\(geo.kernelH), \(geo.kernelW), \(c), Cout], found \(kernel)")
                }
                let cout = kernel[3]
                if n.weights.count > 1, n.weights[1].shape.reduce(1, *) != cout || n.weights[1].shape.count != 1 {
                    throw fail("bias shape: expected [\(cout)], found \(n.weights[1].shape)")
                }
                try resolve(&geo, h: h, w: w, fail)
                let (oh, ow) = try outputSize(geo, h: h, w: w, fail)
                n.kind = .conv(geo)
                n.shape = [oh, ow, cout]
            case .maxPool(var geo), .avgPool(var geo):
                let (h, w, c) = try spatial(ins[0])
                try resolve(&geo, h: h, w: w, fail)
                let (oh, ow) = try outputSize(geo, h: h, w: w, fail)
                guard geo.padTop < geo.kernelH, geo.padBottom < geo.kernelH, geo.padLeft < geo.kernelW, geo.padRight < geo.kernelW else {
                    throw fail("pooling padding must be smaller than the pool size")
                }
                if case .maxPool = n.kind { n.kind = .maxPool(geo) } else { n.kind = .avgPool(geo) }
                n.shape = [oh, ow, c]
            case .dense:
                guard ins[0].count == 1 else {
                    throw fail("Dense on a rank-\(ins[0].count) tensor \(ins[0]) is not supported (add a Flatten before it)")
                }
                guard n.weights.count >= 1 else { throw fail("Dense without weights") }
                let kernel = n.weights[0].shape
                guard kernel.count == 2, kernel[0] == ins[0][0] else {
                    throw fail("kernel shape: expected [\(ins[0][0]), units], found \(kernel)")
                }
                if n.weights.count > 1, n.weights[1].shape != [kernel[1]] {
                    throw fail("bias shape: expected [\(kernel[1])], found \(n.weights[1].shape)")
                }
                n.shape = [kernel[1]]
            }
            guard n.shape.allSatisfy({ $0 > 0 }) else { throw fail("output shape \(n.shape) is empty") }
            g.nodes[i] = n
        }
    }

    /// TF SAME: out = ceil(in/stride); total pad = max((out-1)*stride + k - in, 0),
    /// the smaller half on top/left.
    private static func resolve(_ g: inout PlanNode.Geometry, h: Int, w: Int, _ fail: (String) -> FacecError) throws {
        guard g.kernelH >= 1, g.kernelW >= 1, g.strideH >= 1, g.strideW >= 1 else {
            throw fail("kernel \(g.kernelH)×\(g.kernelW) / stride \(g.strideH)×\(g.strideW) is invalid")
        }
        switch g.padding ?? .valid {
        case .valid: break
        case .explicit(let t, let b, let l, let r):
            guard t >= 0, b >= 0, l >= 0, r >= 0 else { throw fail("negative padding") }
            g.padTop += t; g.padBottom += b; g.padLeft += l; g.padRight += r
        case .same:
            let oh = (h + g.strideH - 1) / g.strideH, ow = (w + g.strideW - 1) / g.strideW
            let ph = max((oh - 1) * g.strideH + g.kernelH - h, 0), pw = max((ow - 1) * g.strideW + g.kernelW - w, 0)
            g.padTop += ph / 2; g.padBottom += ph - ph / 2
            g.padLeft += pw / 2; g.padRight += pw - pw / 2
        }
        g.padding = nil
    }

    static func outputSize(_ g: PlanNode.Geometry, h: Int, w: Int, _ fail: (String) -> FacecError) throws -> (Int, Int) {
        let ph = h + g.padTop + g.padBottom, pw = w + g.padLeft + g.padRight
        guard ph >= g.kernelH, pw >= g.kernelW else {
            throw fail("kernel \(g.kernelH)×\(g.kernelW) is larger than its padded input \(ph)×\(pw)")
        }
        return ((ph - g.kernelH) / g.strideH + 1, (pw - g.kernelW) / g.strideW + 1)
    }
}
