#include "cpu_features.h"

const char *facec_missing_cpu_feature(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx")) return "AVX";
    if (!__builtin_cpu_supports("avx2")) return "AVX2";
    if (!__builtin_cpu_supports("fma")) return "FMA";
    if (!__builtin_cpu_supports("bmi2")) return "BMI2";
#endif
    return 0;
}

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <time.h>

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
/* 12 independent FMA chains of one vector type for about `seconds`:
   GFLOP/s = iterations x 12 chains x 2 flops x lanes. */
#define FMA_PEAK_PROBE(name, features, vec, lanes, set1, fmadd, add, first)              \
__attribute__((target(features)))                                                      \
double name(double seconds) {                                                          \
    vec a0 = set1(0.1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;                  \
    vec a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;                        \
    const vec b = set1(1.0000001f), c = set1(1e-7f);                                   \
    long iterations = 0;                                                               \
    double start = seconds_now(), elapsed;                                             \
    do {                                                                               \
        for (int k = 0; k < 100000; k++) {                                             \
            a0 = fmadd(a0, b, c); a1 = fmadd(a1, b, c); a2 = fmadd(a2, b, c);          \
            a3 = fmadd(a3, b, c); a4 = fmadd(a4, b, c); a5 = fmadd(a5, b, c);          \
            a6 = fmadd(a6, b, c); a7 = fmadd(a7, b, c); a8 = fmadd(a8, b, c);          \
            a9 = fmadd(a9, b, c); a10 = fmadd(a10, b, c); a11 = fmadd(a11, b, c);      \
        }                                                                              \
        iterations += 100000;                                                          \
        elapsed = seconds_now() - start;                                               \
    } while (elapsed < seconds);                                                       \
    vec s = add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7)));         \
    s = add(s, add(add(a8, a9), add(a10, a11)));                                       \
    volatile float sink = first(s);                                                    \
    (void)sink;                                                                        \
    return (double)iterations * 12 * 2 * (lanes) / elapsed / 1e9;                      \
}

FMA_PEAK_PROBE(facec_fma_peak_gflops, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_cvtss_f32)
FMA_PEAK_PROBE(facec_fma_peak_gflops_avx512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_cvtss_f32)

int facec_cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
}
#elif defined(__aarch64__)
#include <arm_neon.h>
/* The same probe with 4-wide NEON FMAs (fmla), what the portable kernels
   compile to on aarch64: 24 chains, since cores such as the Cortex-A76 keep
   two FMA pipes busy only with 8 or more chains of 4-cycle latency. */
double facec_fma_peak_gflops(double seconds) {
    float32x4_t a[24];
    for (int j = 0; j < 24; j++) a[j] = vdupq_n_f32(0.1f);
    const float32x4_t b = vdupq_n_f32(1.0000001f), c = vdupq_n_f32(1e-7f);
    long iterations = 0;
    double start = seconds_now(), elapsed;
    do {
        for (int k = 0; k < 100000; k++) {
#pragma clang loop unroll(full)
            for (int j = 0; j < 24; j++) a[j] = vfmaq_f32(c, a[j], b);
        }
        iterations += 100000;
        elapsed = seconds_now() - start;
    } while (elapsed < seconds);
    float32x4_t s = a[0];
    for (int j = 1; j < 24; j++) s = vaddq_f32(s, a[j]);
    volatile float sink = vgetq_lane_f32(s, 0);
    (void)sink;
    return (double)iterations * 24 * 2 * 4 / elapsed / 1e9;
}
int facec_cpu_has_avx512(void) { return 0; }
double facec_fma_peak_gflops_avx512(double seconds) { (void)seconds; return 0; }
#else
double facec_fma_peak_gflops(double seconds) { (void)seconds; return 0; }
int facec_cpu_has_avx512(void) { return 0; }
double facec_fma_peak_gflops_avx512(double seconds) { (void)seconds; return 0; }
#endif

float facec_reciprocal_estimate(float a) {
#if defined(__x86_64__)
    return _mm_cvtss_f32(_mm_rcp_ss(_mm_set_ss(a)));
#else
    return 1.0f / a;
#endif
}
