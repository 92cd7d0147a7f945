import FacecFormat

/// Reduced-precision weight storage (`facec convert --weights f16|int8`),
/// decided per layer at compile time from the weights themselves.
///
/// - f16: IEEE half, round to nearest even.
/// - int8: symmetric per output channel: scale[c] = max|w[·, c]| / 127,
///   q = round(w / scale[c]) in -127...127.
///
/// Activations: on CPUs with AVX-512 VNNI the runtime quantises the inputs
/// of int8 convolutions to 8 bits per tensor, per call; elsewhere the kernels
/// widen the weights as they load them (weight-only). The plan below does not
/// depend on the CPU.
///
/// The compiler measures each layer's relative RMS weight error
/// ε = ‖w − stored‖ / ‖w‖ in every precision, and estimates the network's
/// relative output error as √(Σ ε²) (independent errors adding in quadrature
/// through the layers; measured on the fixtures it lands between the median
/// and the worst photo's error). While that estimate is above the budget of
/// the precision asked for, the layer whose promotion (int8 → f16 → f32)
/// removes the most error per byte added is promoted: small layers go first,
/// so the budget costs little size.
enum WeightQuantization {
    /// Default error budgets (estimated relative RMS output error).
    /// f16: the bound asked of it is 1e-3 (max |Δ| / max |y|); int8: cosine
    /// ≥ 0.999, a relative RMS error ≤ 0.045. Measured against the estimate
    /// on the 64 photos of ../shared/faces: a full-size VGG-Face (4096-value
    /// output) with every layer reduced lands at 0.75–0.95× it on the worst
    /// photo; a narrow VGG fixture with an 8-value output at up to 1.9×: the
    /// fewer values an output has, the more one photo's error scatters around
    /// the RMS estimate. So the budget shrinks as √(d / 64) below 64 outputs.
    /// int8's base is 0.035, not the 0.045 the goal allows: margin for that
    /// scatter and for 8-bit activations, which the estimate leaves out.
    /// Measured on the full-size VGG-Face, every layer int8 (estimate 3.3%):
    /// worst photo cosine 0.99964 weight-only, 0.99952 with 8-bit activations.
    /// A tighter base (it was 0.02) promoted 11 of its 13 convolutions to f16,
    /// which run 4–5× slower than int8 ones on a VNNI CPU.
    static func budget(_ p: WeightPrecision, outputCount d: Int) -> Double {
        let base: Double
        switch p {
        case .f32: return 0
        case .f16: base = 7e-4
        case .int8: base = 0.035
        }
        return base * min(1, (Double(max(d, 1)) / 64).squareRoot())
    }

    /// One layer's weights measured in each precision.
    struct Analysis {
        var count: Int            // weights (unpadded)
        var paddedCount: Int      // weights as stored (output channels padded to 8)
        var paddedColumns: Int
        var scales: [Float]       // int8 per-channel scales, padded with zeros
        var f16Error: Double?     // nil: a weight is beyond half's range
        var int8Error: Double
    }

    /// What one layer's weights are stored as, and the measured error.
    struct Choice {
        var type: ElementType
        var scales: [Float] = []
        var relativeError: Double = 0
    }

    /// Two passes over the weights: per-channel maxima and the norm, then
    /// the f16 and int8 errors.
    static func analyse(_ t: WeightTensor, paddedColumns: Int) throws -> Analysis {
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
        var scales = [Float](repeating: 0, count: paddedColumns)
        for c in 0..<columns { scales[c] = absMax[c] / 127 }
        let inHalfRange = (absMax.max() ?? 0) <= Float(Float16.greatestFiniteMagnitude)
        var halfSquares = 0.0, int8Squares = 0.0
        try t.stream { chunk in
            var i = 0
            while i < chunk.count {
                for c in 0..<columns {
                    let v = chunk[i + c], d8 = Double(v) - Double(quantize(v, scale: scales[c])) * Double(scales[c])
                    int8Squares += d8 * d8
                    if inHalfRange { let d = Double(v) - Double(Float(Float16(v))); halfSquares += d * d }
                }
                i += columns
            }
        }
        let norm = sumSquares.squareRoot()
        func relative(_ squares: Double) -> Double { norm > 0 ? squares.squareRoot() / norm : 0 }
        let count = t.shape.reduce(1, *)
        return Analysis(count: count, paddedCount: count / columns * paddedColumns, paddedColumns: paddedColumns, scales: scales,
                        f16Error: inHalfRange ? relative(halfSquares) : nil, int8Error: relative(int8Squares))
    }

    /// Per layer, the stored type: the precision asked for, then promotions
    /// until the estimated output error is within `budget`.
    static func plan(_ layers: [Analysis], precision: WeightPrecision, budget: Double) -> [Choice] {
        func start(_ a: Analysis) -> ElementType {
            switch precision {
            case .f32: return .f32
            case .f16: return a.f16Error == nil ? .f32 : .f16
            case .int8: return .i8
            }
        }
        func error(_ a: Analysis, _ t: ElementType) -> Double {
            switch t {
            case .f32: return 0
            case .f16: return a.f16Error!
            case .i8: return a.int8Error
            }
        }
        func bytes(_ a: Analysis, _ t: ElementType) -> Double {
            switch t {
            case .f32: return Double(a.paddedCount * 4)
            case .f16: return Double(a.paddedCount * 2)
            case .i8: return Double(a.paddedCount + a.paddedColumns * 4)
            }
        }
        func promoted(_ a: Analysis, _ t: ElementType) -> ElementType? {
            switch t {
            case .f32: return nil
            case .f16: return .f32
            case .i8: return a.f16Error == nil ? .f32 : .f16
            }
        }
        var types = layers.map(start)
        var squares = zip(layers, types).reduce(0.0) { $0 + pow2(error($1.0, $1.1)) }
        while squares.squareRoot() > budget {
            var best: (index: Int, to: ElementType, gainPerByte: Double)? = nil
            for (i, a) in layers.enumerated() {
                guard let next = promoted(a, types[i]) else { continue }
                let gain = pow2(error(a, types[i])) - pow2(error(a, next))
                let gainPerByte = gain / max(1, bytes(a, next) - bytes(a, types[i]))
                if gain > 0, best == nil || gainPerByte > best!.gainPerByte { best = (i, next, gainPerByte) }
            }
            guard let best else { break }
            squares -= pow2(error(layers[best.index], types[best.index])) - pow2(error(layers[best.index], best.to))
            types[best.index] = best.to
        }
        return zip(layers, types).map { a, t in
            Choice(type: t, scales: t == .i8 ? a.scales : [], relativeError: error(a, t))
        }
    }

    private static func pow2(_ x: Double) -> Double { x * x }

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
