/// Convolutions whose output rows are shorter than a register tile (dlib's
/// ResNet: 256 channels on 4×4 and 3×3 maps). `ConvKernel.row` would run
/// them one pixel at a time, reloading every weight per pixel. Instead each
/// output pixel's receptive field is copied out (im2col: KH·KW·C floats, in
/// the order of the weights' rows) and the whole map runs as a 1×1
/// convolution over those patches, in rows of exactly 6 pixels (the last
/// padded with zero patches into a scratch output), so every tile is full and
/// each row reads the weights once. Same products, same order per output.
///
/// A convolution with a single output pixel (dlib's 4×4 → 1×1 3×3/2) is a
/// dense layer over its one patch: the weights `[KH][KW][Cin][CoutPad8]` are
/// exactly dense weights `[KH·KW·Cin][CoutPad8]`, streamed row by row.
enum PatchConv {
    static func applies(_ s: Step) -> Bool {
        s.kernel == .conv2dDirect && s.outShape.w < 6 && s.outShape.h > 1
    }

    static func isSinglePixel(_ s: Step) -> Bool {
        s.kernel == .conv2dDirect && s.outShape.h == 1 && s.outShape.w == 1 && s.kernelH * s.kernelW > 1
    }

    /// The dense layer over a single-pixel convolution's patch.
    static func denseStep(_ s: Step) -> Step {
        var p = s
        p.kernel = .dense
        p.inShape = (1, 1, s.kernelH * s.kernelW * s.inShape.c)
        return p
    }

    static let rowPixels = 6

    static func rows(_ s: Step) -> Int { (s.outShape.h * s.outShape.w + rowPixels - 1) / rowPixels }

    /// Scratch floats: the patches, then the padded output.
    static func floats(_ s: Step) -> Int { rows(s) * rowPixels * (s.kernelH * s.kernelW * s.inShape.c + s.outShape.c) }

    /// The 1×1 convolution over the patches, rows of 6 pixels (rows are the
    /// tasks threads share).
    static func patchStep(_ s: Step) -> Step {
        var p = s
        p.inShape = (rows(s), rowPixels, s.kernelH * s.kernelW * s.inShape.c)
        p.outShape = (rows(s), rowPixels, s.outShape.c)
        p.kernelH = 1; p.kernelW = 1; p.strideH = 1; p.strideW = 1
        p.padTop = 0; p.padBottom = 0; p.padLeft = 0; p.padRight = 0
        return p
    }

    /// Copies every output pixel's receptive field out of the (padded) input,
    /// one window row (KW pixels × C, contiguous) at a time; the patches past
    /// the last pixel are zero.
    static func gather(_ s: Step, padded p: UnsafePointer<Float>, into q: UnsafeMutablePointer<Float>, fullRows: Bool = true) {
        let C = s.inShape.c, PW = s.inShape.w + s.padLeft + s.padRight
        let OW = s.outShape.w, run = s.kernelW * C, patch = s.kernelH * run
        let pixels = s.outShape.h * OW
        if fullRows { (q + pixels * patch).update(repeating: 0, count: (rows(s) * rowPixels - pixels) * patch) }
        for oy in 0..<s.outShape.h {
            for ox in 0..<OW {
                let dst = q + (oy * OW + ox) * patch
                for ky in 0..<s.kernelH {
                    (dst + ky * run).update(from: p + ((oy * s.strideH + ky) * PW + ox * s.strideW) * C, count: run)
                }
            }
        }
    }
}
