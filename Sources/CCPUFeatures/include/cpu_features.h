#ifndef FACEC_CPU_FEATURES_H
#define FACEC_CPU_FEATURES_H

/// Names the first instruction-set extension the runtime kernels were built
/// for (x86-64-v3: AVX2, FMA, F16C, BMI2) that this CPU lacks; NULL if it has
/// them all (or on non-x86 builds, which do not use them). Compiled without
/// those extensions, so it is safe to call on any x86-64 CPU.
const char *facec_missing_cpu_feature(void);


/// GFLOP/s of one core running 12 independent 8-wide FMA chains for about
/// `seconds`: the practical peak for the kernels' instruction set (AVX2+FMA).
/// Call only after facec_missing_cpu_feature() returned NULL. On aarch64 the
/// same with 24 chains of 4-wide NEON FMAs; 0 on other architectures.
double facec_fma_peak_gflops(double seconds);

/// 1 if this CPU (and the OS, which must save zmm state) supports every
/// AVX-512 extension of x86-64-v4 (F, BW, CD, DQ, VL): the runtime then uses
/// the 16-lane micro-kernels of FacecKernelsAVX512. 0 otherwise.
int facec_cpu_has_avx512(void);

/// As facec_fma_peak_gflops, with 16-wide FMAs. Call only when
/// facec_cpu_has_avx512() returned 1.
double facec_fma_peak_gflops_avx512(double seconds);

/// The CPU's own reciprocal estimate of `a` (x86 `rcpss`, about 12 bits,
/// its table differing between vendors), which TensorFlow's softmax refines
/// by one Newton step (Eigen's preciprocal): mtcnn's scores are made with
/// it. 1/a on other architectures.
float facec_reciprocal_estimate(float a);

/// A spin-wait hint (x86 `pause`); a no-op elsewhere.
static inline void facec_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/// Asks for the cache line at `p` to be loaded (x86 `prefetcht0`); a hint,
/// never a fault, so `p` may point past the end of a buffer.
static inline void facec_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
