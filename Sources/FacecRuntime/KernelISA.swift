import CCPUFeatures
#if canImport(Glibc)
import Glibc
#endif

/// The instruction set a model instance's micro-kernels use. On x86-64
/// everything is built for x86-64-v3 (AVX2 + FMA, 8 lanes); on CPUs with
/// AVX-512 the convolution and Winograd products switch to the 16-lane
/// kernels of FacecKernelsAVX512, chosen here at run time from CPUID, so one
/// binary runs on both. `FACEC_ISA=avx2` in the environment forces the 8-lane
/// kernels.
///
/// `portable` is the path a non-x86 build (aarch64: Raspberry Pi, Jetson)
/// runs, and its only one: the generic 8-lane Swift SIMD kernels with no
/// x86-only module involved (SIMD8<Float> becomes two NEON registers there).
/// On x86 `FACEC_ISA=portable` selects the same source (compiled for
/// x86-64-v3), so the kernel tests run the path an ARM build takes.
public enum KernelISA: String, Sendable, CaseIterable {
    case portable, avx2, avx512

    /// What this CPU supports, slowest first.
    public static let supported: [KernelISA] = {
        #if arch(x86_64)
        return facec_cpu_has_avx512() != 0 ? [.portable, .avx2, .avx512] : [.portable, .avx2]
        #else
        return [.portable]
        #endif
    }()

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

    /// Whether the 16-lane kernels of FacecKernelsAVX512 run.
    public var wide: Bool { self == .avx512 }

    /// This core's measured FMA peak with this set's vectors, GFLOP/s.
    public func measuredPeak(seconds: Double) -> Double {
        self == .avx512 ? facec_fma_peak_gflops_avx512(seconds) : facec_fma_peak_gflops(seconds)
    }
}
