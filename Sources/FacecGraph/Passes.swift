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
