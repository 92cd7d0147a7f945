import FacecCore
import FacecFormat
import FacecKernels

/// Turns a loaded file's nodes into kernel calls, after checking each node
/// against its kernel's contract (`KernelContracts`): every shape, weight
/// tensor, layout and arena range a kernel will touch. The kernels are built
/// without bounds checks; this is where the bounds are.
enum PlanBuilder {
    static func build(_ file: ModelFile) throws -> [Step] {
        let h = file.header
        var steps: [Step] = []
        for (index, n) in h.nodes.enumerated() {
            let c = NodeContext(file: file, index: index, node: n)
            // A kernel must never write over what it reads.
            for v in c.ins where overlaps(v, c.out) && n.kernel != .relu {
                throw c.fail("output '\(c.out.name)' overlaps input '\(v.name)' in the arena")
            }
            guard !n.inputs.contains(h.inputValue) || n.output != h.inputValue else { throw c.fail("writes the model input") }
            var s = Step(kernel: n.kernel, name: n.name, inputs: c.ins.map(\.arenaOffset), output: c.out.arenaOffset,
                         inShape: (0, 0, 0), outShape: (0, 0, 0), count: c.out.elementCount)
            s.relu = n.activation == .relu
            s.kernelH = n.kernelH; s.kernelW = n.kernelW; s.strideH = n.strideH; s.strideW = n.strideW
            s.padTop = n.padTop; s.padLeft = n.padLeft; s.padBottom = n.padBottom; s.padRight = n.padRight
            switch n.kernel {
            case .conv2dDirect: try KernelContracts.directConvolution(c, &s)
            case .conv2dWinogradF43: try KernelContracts.winograd(c, &s)
            case .maxPool, .avgPool: try KernelContracts.pooling(c, &s)
            case .zeroPad: try KernelContracts.zeroPad(c, &s)
            case .dense: try KernelContracts.dense(c, &s)
            case .add: try KernelContracts.add(c, &s)
            case .relu, .softmax: try KernelContracts.elementwise(c, &s)
            }
            let work = try expectedFlops(n, s, inputCount: c.ins.first?.elementCount ?? 0, c.fail)
            guard n.flops == work else { throw c.fail("claims \(n.flops) FLOPs; its shapes make \(work)") }
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
