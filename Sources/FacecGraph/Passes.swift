import FacecFormat

/// Graph rewrites. Each pass keeps node indices stable (dead nodes are
/// flagged) and redirects consumers and graph outputs.
enum Passes {
    /// Dropout and linear activations are the identity at inference.
    static func removeIdentities(_ g: inout PlanGraph) {
        for i in g.nodes.indices where g.nodes[i].alive && g.nodes[i].kind == .identity {
            g.redirect(i, to: g.nodes[i].inputs[0])
            g.nodes[i].alive = false
        }
    }

    /// ZeroPadding2D followed only by convolutions becomes those convolutions'
    /// padding (zero padding is exactly what a padded convolution reads).
    /// Not folded into pooling: max-pool padding means -inf, not zero.
    static func foldZeroPadding(_ g: inout PlanGraph) {
        let consumers = g.consumers()
        for i in g.nodes.indices where g.nodes[i].alive {
            guard case .zeroPad(let pad) = g.nodes[i].kind, !g.isGraphOutput(i) else { continue }
            let users = consumers[i]
            guard !users.isEmpty, users.allSatisfy({ if case .conv = g.nodes[$0].kind { return true } else { return false } })
            else { continue }
            for u in users {
                guard case .conv(var geo) = g.nodes[u].kind else { continue }
                geo.padTop += pad.padTop; geo.padBottom += pad.padBottom
                geo.padLeft += pad.padLeft; geo.padRight += pad.padRight
                g.nodes[u].kind = .conv(geo)
                g.nodes[u].fused.insert("zero padding (\(g.nodes[i].name))", at: 0)
            }
            g.redirect(i, to: g.nodes[i].inputs[0])
            g.nodes[i].alive = false
        }
    }

    /// ReLU after a convolution, dense or add (whose result nobody else reads)
    /// is applied by that kernel as it stores its output.
    static func fuseReLU(_ g: inout PlanGraph) {
        let consumers = g.consumers()
        for i in g.nodes.indices where g.nodes[i].alive && g.nodes[i].kind == .relu {
            let p = g.nodes[i].inputs[0]
            let producer = g.nodes[p]
            let fusable: Bool
            switch producer.kind {
            case .conv, .dense, .add, .zeroExtendedAdd: fusable = true
            default: fusable = false
            }
            guard fusable, producer.activation == .none, consumers[p] == [i], !g.isGraphOutput(p) else { continue }
            g.nodes[p].activation = .relu
            g.nodes[p].fused.append("relu (\(g.nodes[i].name))")
            // The fused node now produces the ReLU's result: give it the name
            // users know the output by when the ReLU was the named output.
            g.redirect(i, to: p)
            g.nodes[i].alive = false
        }
    }

    /// Kernel rows and columns that only ever meet padding are dropped, with
    /// the padding they stood for (exact: they add products with zero). A
    /// 3×3 "same" convolution on a 1×1 map (dlib's ResNet ends with one)
    /// becomes a 1×1 one, which the compiler runs as a dense layer.
    static func trimUnreadTaps(_ g: inout PlanGraph) {
        for i in g.nodes.indices where g.nodes[i].alive {
            guard case .conv(let geo) = g.nodes[i].kind, let kernel = g.nodes[i].weights.first, kernel.shape.count == 4 else { continue }
            let input = g.nodes[g.nodes[i].inputs[0]].shape, output = g.nodes[i].shape
            guard input.count == 3, output.count == 3 else { continue }
            func used(_ k: Int, pad: Int, stride: Int, inSize: Int, outSize: Int) -> Range<Int> {
                let taps = (0..<k).filter { t in (0..<outSize).contains { o in (0..<inSize).contains(o * stride - pad + t) } }
                return (taps.first ?? 0)..<((taps.last ?? (k - 1)) + 1)
            }
            let rows = used(geo.kernelH, pad: geo.padTop, stride: geo.strideH, inSize: input[0], outSize: output[0])
            let cols = used(geo.kernelW, pad: geo.padLeft, stride: geo.strideW, inSize: input[1], outSize: output[1])
            guard rows.count < geo.kernelH || cols.count < geo.kernelW else { continue }
            var trimmed = geo
            trimmed.kernelH = rows.count; trimmed.kernelW = cols.count
            trimmed.padTop -= rows.lowerBound; trimmed.padBottom -= geo.kernelH - rows.upperBound
            trimmed.padLeft -= cols.lowerBound; trimmed.padRight -= geo.kernelW - cols.upperBound
            guard trimmed.padTop >= 0, trimmed.padBottom >= 0, trimmed.padLeft >= 0, trimmed.padRight >= 0,
                  (input[0] + trimmed.padTop + trimmed.padBottom - trimmed.kernelH) / trimmed.strideH + 1 == output[0],
                  (input[1] + trimmed.padLeft + trimmed.padRight - trimmed.kernelW) / trimmed.strideW + 1 == output[1]
            else { continue }
            let (kw, cin, cout) = (kernel.shape[1], kernel.shape[2], kernel.shape[3])
            let run = cin * cout
            var sliced = WeightTensor(name: kernel.name, shape: [rows.count, cols.count, cin, cout]) {
                let all = try kernel.load()
                var out: [Float] = []
                out.reserveCapacity(rows.count * cols.count * run)
                for ky in rows { for kx in cols { out += all[((ky * kw + kx) * run)..<((ky * kw + kx + 1) * run)] } }
                return out
            }
            sliced.release = kernel.release
            g.nodes[i].weights[0] = sliced
            g.nodes[i].kind = .conv(trimmed)
            g.nodes[i].fused.insert("taps \(geo.kernelH)x\(geo.kernelW) -> \(rows.count)x\(cols.count) (the rest only meet padding)", at: 0)
        }
    }

    /// Keeps only what the outputs need.
    static func removeDeadNodes(_ g: inout PlanGraph) {
        var needed = [Bool](repeating: false, count: g.nodes.count)
        var stack = [g.output] + (g.classes.map { [$0] } ?? [])
        while let i = stack.popLast() {
            if needed[i] { continue }
            needed[i] = true
            stack += g.nodes[i].inputs
        }
        for i in g.nodes.indices where !needed[i] && g.nodes[i].kind != .input { g.nodes[i].alive = false }
    }
}
