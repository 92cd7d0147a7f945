import FacecFormat

/// The compiler's working form: one node per operation, each with its output
/// shape, rewritten in place by the passes (dead nodes are flagged, not removed,
/// so indices stay stable).
struct PlanNode {
    enum Kind: Equatable {
        case input
        case conv(Geometry)
        case dense
        case maxPool(Geometry)
        case avgPool(Geometry)
        case zeroPad(Geometry)      // only the pads are used
        case add
        case zeroExtendedAdd         // H×W×C inputs of different shapes, each zero-extended
        case relu
        case softmax
        case flatten                // a view: same bytes, rank-1 shape
        case identity               // dropout, linear activation: removed by a pass
    }

    struct Geometry: Equatable {
        var kernelH = 1, kernelW = 1, strideH = 1, strideW = 1
        var padTop = 0, padBottom = 0, padLeft = 0, padRight = 0
        var padding: Padding? = nil  // resolved into the explicit pads by shape inference
    }

    var name: String
    var kind: Kind
    var inputs: [Int]
    var shape: [Int] = []
    var activation: Activation = .none
    var fused: [String] = []
    var weights: [WeightTensor] = []
    var alive = true
}

struct PlanGraph {
    var nodes: [PlanNode]
    var output: Int
    var classes: Int?

    /// Consumers of each node among the live nodes.
    func consumers() -> [[Int]] {
        var result = Array(repeating: [Int](), count: nodes.count)
        for (i, n) in nodes.enumerated() where n.alive {
            for input in n.inputs { result[input].append(i) }
        }
        return result
    }

    func isGraphOutput(_ i: Int) -> Bool { i == output || i == classes }

    /// Makes everything that read `old` read `new` instead.
    mutating func redirect(_ old: Int, to new: Int) {
        for i in nodes.indices where nodes[i].alive {
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
        }
        if output == old { output = new }
        if classes == old { classes = new }
    }
}
