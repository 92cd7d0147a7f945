import CCPUFeatures
#if canImport(Glibc)
import Glibc
#endif

/// The instruction set a model instance's micro-kernels use. Everything is
/// built for x86-64-v3 (AVX2 + FMA, 8 lanes); on CPUs with AVX-512 the
/// convolution and Winograd products switch to the 16-lane kernels of
/// FacecKernelsAVX512, chosen here at run time from CPUID, so one binary runs
/// on both. `FACEC_ISA=avx2` in the environment forces the 8-lane kernels.
public enum KernelISA: String, Sendable, CaseIterable {
    case avx2, avx512

    /// What this CPU supports.
    public static let supported: [KernelISA] = facec_cpu_has_avx512() != 0 ? [.avx2, .avx512] : [.avx2]

    /// The fastest supported set, unless FACEC_ISA names another supported one.
    public static let best: KernelISA = {
        if let name = getenv("FACEC_ISA").map({ String(cString: $0) }), let isa = KernelISA(rawValue: name),
           supported.contains(isa) {
            return isa
        }
        return supported.last!
    }()

    /// Floats per SIMD register of this set (for reports).
    public var lanes: Int { self == .avx512 ? 16 : 8 }

    /// This core's measured FMA peak with this set's vectors, GFLOP/s.
    public func measuredPeak(seconds: Double) -> Double {
        self == .avx512 ? facec_fma_peak_gflops_avx512(seconds) : facec_fma_peak_gflops(seconds)
    }
}
