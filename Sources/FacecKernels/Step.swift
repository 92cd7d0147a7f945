import FacecFormat

/// One node, resolved for execution: arena offsets, mmapped weight pointers and
/// every dimension the kernel loops over. Built once per loaded model, after
/// checking that the kernel can never read or write outside its buffers.
package struct Step: @unchecked Sendable {
    package var kernel: Kernel
    package var name: String
    package var inputs: [Int]          // arena byte offsets
    package var output: Int            // arena byte offset
    package var inShape: (h: Int, w: Int, c: Int)
    package var outShape: (h: Int, w: Int, c: Int)
    package var count: Int             // elements of the output (for element-wise kernels)
    /// float32 weights (nil when they are stored reduced: see `packed`).
    package var weights: UnsafePointer<Float>? = nil
    /// The weights as stored, whatever their element type.
    package var packed: PackedWeights? = nil
    package var bias: UnsafePointer<Float>? = nil
    package var paddedOut = 0          // row length of the weight matrix (multiple of 8)
    package var kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padTop = 0, padLeft = 0, padBottom = 0, padRight = 0
    package var relu = false
    /// A zero-extending add's input shapes (empty when every input has the
    /// output's size: a flat element-wise add).
    package var addShapes: [(h: Int, w: Int, c: Int)] = []
    /// Direct-convolution weights stored in 16-channel blocks
    /// (`hwio_cout_block16`, for `PatchConv`), not `[KH][KW][Cin][CoutPad8]`.
    package var blockedWeights = false

    package init(kernel: Kernel, name: String, inputs: [Int], output: Int,
                 inShape: (h: Int, w: Int, c: Int), outShape: (h: Int, w: Int, c: Int), count: Int) {
        self.kernel = kernel; self.name = name; self.inputs = inputs; self.output = output
        self.inShape = inShape; self.outShape = outShape; self.count = count
    }

    /// `packed`, or the float32 `weights` of a step built without it (tests).
    package var storedWeights: PackedWeights { packed ?? .f32(weights!) }
}

/// A direct-convolution or dense layer's weights as stored in the file:
/// float32, IEEE half, or int8 with one float32 scale per output channel
/// (value = q × scale). The kernels widen to float32 as they load.
package enum PackedWeights: @unchecked Sendable {
    case f32(UnsafePointer<Float>)
    case f16(UnsafePointer<Float16>)
    case i8(UnsafePointer<Int8>, scales: UnsafePointer<Float>)

    package var elementType: ElementType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .i8: return .i8
        }
    }
}
