import FacecFormat
import FacecKernelsAVX512

/// When a direct convolution and the 2×2 max pooling after it run as one
/// kernel (`ConvPool512`), and how. The convolution must have float32
/// weights, horizontal and vertical stride 1, output channels that 10-channel
/// passes cover within the padded weights (at most 24: where 32-channel
/// tiles waste the most lanes), rows of at least 16 pixels; the pooling must
/// be 2×2, stride 2, unpadded, and the only reader of the convolution's
/// output. DeepID's Conv1 + Pool1 is the case this exists for.
package enum ConvPoolKernel {
    package static func fusable(_ steps: [Step], _ index: Int, header h: ModelHeader, wide: Bool) -> Bool {
        guard wide, index + 1 < steps.count else { return false }
        let conv = steps[index], pool = steps[index + 1]
        guard conv.kernel == .conv2dDirect, case .f32? = conv.packed ?? conv.weights.map({ .f32($0) }),
              conv.strideW == 1, conv.strideH == 1, conv.outShape.c <= 24, conv.outShape.w >= ConvPool512.pixels
        else { return false }
        let passes = (conv.outShape.c + ConvPool512.channels - 1) / ConvPool512.channels
        guard passes * ConvPool512.channels <= conv.paddedOut else { return false }
        guard pool.kernel == .maxPool, pool.kernelH == 2, pool.kernelW == 2, pool.strideH == 2, pool.strideW == 2,
              pool.padTop + pool.padBottom + pool.padLeft + pool.padRight == 0, pool.inputs == [conv.output]
        else { return false }
        let value = h.nodes[index].output
        let readers = h.nodes.filter { $0.inputs.contains(value) }.count
        return readers == 1 && value != h.outputValue && value != h.classesValue
    }

    /// The input planes: the padded input's rows, and room for the last
    /// 16-pixel vector's overhang.
    package static func geometry(_ conv: Step, pooledWidth: Int) -> (rows: Int, PWp: Int) {
        let groups = (2 * pooledWidth + ConvPool512.pixels - 1) / ConvPool512.pixels
        let PW = conv.inShape.w + conv.padLeft + conv.padRight
        return (conv.inShape.h + conv.padTop + conv.padBottom, max(PW, groups * ConvPool512.pixels + conv.kernelW - 1))
    }

    package static func planarFloats(_ conv: Step, pooledWidth: Int) -> Int {
        let g = geometry(conv, pooledWidth: pooledWidth)
        return conv.inShape.c * g.rows * g.PWp
    }

    /// NHWC input → zero-padded planes.
    package static func planes(_ conv: Step, pooledWidth: Int, input x: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>) {
        let (H, W, C) = conv.inShape
        let g = geometry(conv, pooledWidth: pooledWidth)
        p.update(repeating: 0, count: C * g.rows * g.PWp)
        for y in 0..<H {
            let src = x + y * W * C
            for c in 0..<C {
                let dst = p + (c * g.rows + conv.padTop + y) * g.PWp + conv.padLeft
                for i in 0..<W { dst[i] = src[i * C + c] }
            }
        }
    }

    /// Pooled row `py`: all its columns and channels.
    package static func row(_ conv: Step, _ pool: Step, py: Int, planes p: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let POW = pool.outShape.w, CO = conv.outShape.c
        let g = geometry(conv, pooledWidth: POW)
        var ox0 = 0
        while ox0 < 2 * POW {
            let pooled = min(ConvPool512.pixels / 2, POW - ox0 / 2)
            var cb = 0
            while cb < CO {
                ConvPool512.tile(planar: p, rows: g.rows, PWp: g.PWp, C: conv.inShape.c, KH: conv.kernelH, KW: conv.kernelW,
                                 sy: conv.strideH, py: py, ox0: ox0, pooled: pooled, w: conv.weights!, P: conv.paddedOut, cb: cb,
                                 cn: min(ConvPool512.channels, CO - cb), bias: conv.bias!, relu: conv.relu, out: y, POW: POW, CO: CO)
                cb += ConvPool512.channels
            }
            ox0 += ConvPool512.pixels
        }
    }
}
