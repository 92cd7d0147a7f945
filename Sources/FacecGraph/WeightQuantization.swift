import FacecFormat

/// Reduced-precision weight storage (`facec convert --weights f16|int8`),
/// decided per layer at compile time from the weights themselves:
///
/// - f16: IEEE half, round to nearest even; a layer whose weights exceed
///   half's range (65504) stays float32.
/// - int8: symmetric per output channel: scale[c] = max|w[·, c]| / 127,
///   q = round(w / scale[c]) in -127...127. The compiler measures the
///   relative RMS error of the stored weights, ‖w − q·scale‖ / ‖w‖, and keeps
///   a layer whose error exceeds `int8MaxError` in f16 instead.
///
/// Activations stay float32 (weight-only quantisation): the kernels widen
/// weights as they load them, and apply the scale once per output channel.
enum WeightQuantization {
    /// Above this relative RMS weight error an int8 layer is stored f16. With
    /// per-channel scales a Gaussian or uniform layer quantises at 0.4–1 %;
    /// a layer with far outliers in a channel loses more.
    static let int8MaxError = 0.02

    /// What one layer's weights are stored as, and the measured error.
    struct Choice {
        var type: ElementType
        /// int8 only: one scale per (padded) output channel.
        var scales: [Float] = []
        /// ‖stored − float32‖ / ‖float32‖ (0 for float32).
        var relativeError: Double = 0
    }

    static func choose(_ t: WeightTensor, precision: WeightPrecision, paddedColumns: Int) throws -> Choice {
        if precision == .f32 { return Choice(type: .f32) }
        let columns = t.shape.last!
        var absMax = [Float](repeating: 0, count: columns)
        var sumSquares = 0.0
        try t.stream { chunk in
            var i = 0
            while i < chunk.count {
                for c in 0..<columns {
                    let v = chunk[i + c]
                    absMax[c] = max(absMax[c], abs(v))
                    sumSquares += Double(v) * Double(v)
                }
                i += columns
            }
        }
        let norm = sumSquares.squareRoot()
        let f16 = half(t, absMax: absMax.max() ?? 0, norm: norm)
        guard precision == .int8 else { return try f16() }
        var scales = [Float](repeating: 0, count: paddedColumns)
        for c in 0..<columns { scales[c] = absMax[c] / 127 }
        var errorSquares = 0.0
        try t.stream { chunk in
            var i = 0
            while i < chunk.count {
                for c in 0..<columns {
                    let v = chunk[i + c]
                    let d = Double(v) - Double(quantize(v, scale: scales[c])) * Double(scales[c])
                    errorSquares += d * d
                }
                i += columns
            }
        }
        let error = norm > 0 ? errorSquares.squareRoot() / norm : 0
        if error > int8MaxError { return try f16() }
        return Choice(type: .i8, scales: scales, relativeError: error)
    }

    /// The f16 choice (or float32 when a weight is beyond half's range).
    private static func half(_ t: WeightTensor, absMax: Float, norm: Double) -> () throws -> Choice {
        {
            guard absMax <= Float(Float16.greatestFiniteMagnitude) else { return Choice(type: .f32) }
            var errorSquares = 0.0
            try t.stream { chunk in
                for v in chunk { let d = Double(v) - Double(Float(Float16(v))); errorSquares += d * d }
            }
            return Choice(type: .f16, relativeError: norm > 0 ? errorSquares.squareRoot() / norm : 0)
        }
    }

    /// q = round(w / scale), clamped to -127...127 (0 for an all-zero channel).
    @inline(__always)
    static func quantize(_ v: Float, scale: Float) -> Float {
        scale > 0 ? min(127, max(-127, (v / scale).rounded())) : 0
    }

    /// Streams `t` padded to `padded` columns, quantised with `scales` (as
    /// whole numbers in float32; the writer narrows them to int8).
    static func quantized(_ t: WeightTensor, scales: [Float], padded: Int, into sink: ModelWriter.TensorSink) throws {
        let columns = t.shape.last!
        var row = [Float](repeating: 0, count: padded)
        try t.stream { chunk in
            var i = 0
            var rows: [Float] = []
            rows.reserveCapacity(chunk.count / columns * padded)
            while i < chunk.count {
                for c in 0..<columns { row[c] = quantize(chunk[i + c], scale: scales[c]) }
                rows.append(contentsOf: row)
                i += columns
            }
            try rows.withUnsafeBufferPointer { try sink($0) }
        }
    }
}
