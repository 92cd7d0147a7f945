import FacecCore
import FacecFormat

/// Framework layers -> plan nodes, in topological order. Activations that a
/// layer carries (Conv2D(activation='relu')) become fused activations here;
/// softmax becomes its own node.
enum Lowering {
    static func lower(_ graph: Graph, description: ModelDescription) throws -> PlanGraph {
        let order = try topologicalOrder(graph)
        var nodes: [PlanNode] = []
        var nodeOf = [Int](repeating: -1, count: graph.layers.count)

        for li in order {
            let layer = graph.layers[li]
            let inputs = layer.inputs.map { nodeOf[$0] }
            func node(_ kind: PlanNode.Kind, _ inputs: [Int]) -> PlanNode {
                var n = PlanNode(name: layer.name, kind: kind, inputs: inputs)
                n.weights = layer.weights
                return n
            }
            switch layer.op {
            case .input:
                nodes.append(node(.input, []))
            case .conv2d(let a):
                var g = PlanNode.Geometry(kernelH: a.kernelH, kernelW: a.kernelW, strideH: a.strideH, strideW: a.strideW)
                g.padding = a.padding
                nodes.append(node(.conv(g), inputs))
                try appendActivation(a.activation, of: layer.name, to: &nodes)
            case .dense(_, let activation, _):
                nodes.append(node(.dense, inputs))
                try appendActivation(activation, of: layer.name, to: &nodes)
            case .maxPool(let p), .avgPool(let p):
                var g = PlanNode.Geometry(kernelH: p.poolH, kernelW: p.poolW, strideH: p.strideH, strideW: p.strideW)
                g.padding = p.padding
                let isMax: Bool = { if case .maxPool = layer.op { return true } else { return false } }()
                nodes.append(node(isMax ? .maxPool(g) : .avgPool(g), inputs))
            case .zeroPad(let t, let b, let l, let r):
                nodes.append(node(.zeroPad(PlanNode.Geometry(padTop: t, padBottom: b, padLeft: l, padRight: r)), inputs))
            case .flatten:
                nodes.append(node(.flatten, inputs))
            case .dropout:
                nodes.append(node(.identity, inputs))
            case .activation(let kind):
                switch kind {
                case .linear: nodes.append(node(.identity, inputs))
                case .relu: nodes.append(node(.relu, inputs))
                case .softmax: nodes.append(node(.softmax, inputs))
                }
            case .add:
                guard inputs.count >= 2 else { throw FacecError(.graph, "layer '\(layer.name)'", "Add needs at least two inputs") }
                nodes.append(node(.add, inputs))
            case .zeroExtendedAdd:
                guard inputs.count >= 2 else { throw FacecError(.graph, "layer '\(layer.name)'", "Add needs at least two inputs") }
                nodes.append(node(.zeroExtendedAdd, inputs))
            }
            nodeOf[li] = nodes.count - 1
        }
        guard description.outputLayer >= 0, description.outputLayer < graph.layers.count else {
            throw FacecError(.graph, "layer '\("?")'", "the chosen output layer does not exist")
        }
        return PlanGraph(nodes: nodes, output: nodeOf[description.outputLayer],
                         classes: description.classesLayer.map { nodeOf[$0] })
    }

    /// A layer with a built-in activation maps to the layer plus, for relu, a
    /// fused flag; the node keeps the layer's name so the fused list says so.
    private static func appendActivation(_ kind: ActivationKind, of name: String, to nodes: inout [PlanNode]) throws {
        switch kind {
        case .linear: break
        case .relu:
            nodes[nodes.count - 1].activation = .relu
            nodes[nodes.count - 1].fused.append("relu (\(name) activation)")
        case .softmax:
            nodes.append(PlanNode(name: name + "/softmax", kind: .softmax, inputs: [nodes.count - 1]))
        }
    }

    private static func topologicalOrder(_ graph: Graph) throws -> [Int] {
        var state = [UInt8](repeating: 0, count: graph.layers.count)   // 0 new, 1 visiting, 2 done
        var order: [Int] = []
        // Iterative DFS: hostile configs could be deep.
        for root in graph.layers.indices where state[root] == 0 {
            var stack: [(Int, Int)] = [(root, 0)]
            state[root] = 1
            while let (node, next) = stack.last {
                let inputs = graph.layers[node].inputs
                if next < inputs.count {
                    stack[stack.count - 1].1 += 1
                    let input = inputs[next]
                    guard input >= 0, input < graph.layers.count else {
                        throw FacecError(.graph, "layer '\(graph.layers[node].name)'", "refers to a missing input layer")
                    }
                    if state[input] == 1 { throw FacecError(.graph, "layer '\(graph.layers[node].name)'", "the graph has a cycle") }
                    if state[input] == 0 { state[input] = 1; stack.append((input, 0)) }
                } else {
                    state[node] = 2
                    order.append(node)
                    stack.removeLast()
                }
            }
        }
        return order
    }
}
