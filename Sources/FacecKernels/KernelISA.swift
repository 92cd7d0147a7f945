import CCPUFeatures
import CInt8Kernels
#if canImport(Glibc)
import Glibc
#endif

/// The instruction set a model instance's micro-kernels use. On x86-64
/// everything is built for x86-64-v3 (AVX2 + FMA, 8 lanes); on CPUs with
/// AVX-512 the convolution and Winograd products switch to the 16-lane
/// kernels of FacecKernelsAVX512, chosen here at run time from CPUID, so one
/// binary runs on both. `FACEC_ISA=avx2` in the environment forces the 8-lane
/// kernels, `FACEC_ISA=avx512` the 16-lane kernels without VNNI.
///
/// `avx512vnni` is `avx512` plus one thing: convolutions whose weights are
/// int8 quantise their input activations to 8 bits per tensor, per call, and
/// multiply with `vpdpbusd` (CInt8Kernels). Without VNNI, int8 weights are
/// widened to float32 in the kernels (weight-only), as on every other set.
///
/// `portable` is the float path of a non-x86 build (aarch64: Raspberry Pi,
/// Jetson): the generic 8-lane Swift SIMD kernels with no x86-only module
/// involved (SIMD8<Float> becomes pairs of NEON registers and `fmla`).
/// On x86 `FACEC_ISA=portable` selects the same source (compiled for
/// x86-64-v3), so the kernel tests run the path an ARM build takes.
///
/// `neondot` is `portable` plus, like `avx512vnni`, int8 activations: on
/// aarch64 cores with ARMv8.2's dot-product instructions (HWCAP_ASIMDDP:
/// Cortex-A55/A76 and later, Pi 5), int8-weight convolutions run on `sdot`
/// (CInt8Kernels). Cortex-A53/A72 (Pi 3/4) report no ASIMDDP and never
/// reach that code: their int8 weights are widened to float32.
public enum KernelISA: String, Sendable, CaseIterable {
    case portable, avx2, avx512, avx512vnni, neondot

    /// What this CPU supports, slowest first.
    public static let supported: [KernelISA] = {
        #if arch(x86_64)
        guard facec_cpu_has_avx512() != 0 else { return [.portable, .avx2] }
        return facec_cpu_has_avx512_vnni() != 0 ? [.portable, .avx2, .avx512, .avx512vnni] : [.portable, .avx2, .avx512]
        #elseif arch(arm64)
        return facec_cpu_has_arm_dotprod() != 0 ? [.portable, .neondot] : [.portable]
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
    public var lanes: Int { wide ? 16 : 8 }

    /// Whether the 16-lane kernels of FacecKernelsAVX512 run.
    public var wide: Bool { self == .avx512 || self == .avx512vnni }

    /// Whether int8-weight convolutions run on 8-bit activations (VNNI, SDOT).
    public var int8Activations: Bool { self == .avx512vnni || self == .neondot }

    /// This core's measured FMA peak with this set's vectors, GFLOP/s.
    public func measuredPeak(seconds: Double) -> Double {
        wide ? facec_fma_peak_gflops_avx512(seconds) : facec_fma_peak_gflops(seconds)
    }
}
