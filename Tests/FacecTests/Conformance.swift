import Testing
@testable import FacecKernels

/// The one conformance harness of facec's kernels, in the spirit of ggml's
/// test-backend-ops: every fast kernel (the runtime's convolutions, dense
/// layers, pooling, adds, Winograd, int8; the detector's vector stages; the
/// gallery's dot-product tiles) is run for op × shape × instruction set ×
/// precision against a plain reference loop, and judged by one metric and
/// one budget per precision. The suites that drive it are KernelTests,
/// ReducedWeightKernelTests, Int8ActivationKernelTests, ConvPoolKernelTests
/// and DetectorKernelTests / SearchKernelTests below.
enum Conformance {
    /// What the kernel stores or computes in; the reference loop works in
    /// the same stored values, so the budget measures the kernel alone.
    enum Precision: String, Sendable {
        /// float32 arithmetic in another order (tiles, FMA, Winograd): 1e-5.
        case f32
        /// f16 or int8 weights widened to float32 as the kernel loads them: 1e-5.
        case reducedWeights = "f16/int8 weights"
        /// int8 activations (`vpdpbusd`) against the reference on the same quantised values: 1e-5.
        case int8
        /// Integer or exact-order arithmetic that must match bit for bit.
        case exact
    }

    static func budget(_ p: Precision) -> Double { p == .exact ? 0 : 1e-5 }

    /// The instruction sets this CPU can run (the portable 8-lane path always).
    static var instructionSets: [KernelISA] { KernelISA.supported }

    /// The set whose int8-activation kernel this CPU runs (VNNI or SDOT), if any.
    static var int8ActivationISA: KernelISA? { KernelISA.supported.last { $0.int8Activations } }

    /// The metric: max |got − want| / max |want| over all elements; a NaN or
    /// an infinity in `got`, or a different count, is infinitely wrong.
    static func error(_ got: [Float], _ want: [Float]) -> Double {
        guard got.count == want.count else { return .infinity }
        var diff = 0.0, scale = 0.0
        for i in want.indices {
            guard got[i].isFinite else { return .infinity }
            diff = max(diff, abs(Double(got[i]) - Double(want[i])))
            scale = max(scale, abs(Double(want[i])))
        }
        return scale == 0 ? diff : diff / scale
    }

    /// One case's verdict, named op × shape × instruction set × precision.
    static func expect(_ op: String, shape: String, isa: KernelISA? = nil, precision: Precision, error: Double,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let where_ = isa.map { " on \($0.rawValue)" } ?? ""
        #expect(error <= budget(precision), "\(op) \(shape)\(where_) [\(precision.rawValue)]: error \(error) over \(budget(precision))",
                sourceLocation: sourceLocation)
    }

    static func expect(_ op: String, shape: String, isa: KernelISA? = nil, precision: Precision, got: [Float], want: [Float],
                       sourceLocation: SourceLocation = #_sourceLocation) {
        expect(op, shape: shape, isa: isa, precision: precision, error: error(got, want), sourceLocation: sourceLocation)
    }

    /// A deterministic generator in [-1, 1).
    struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
        }
    }
}
