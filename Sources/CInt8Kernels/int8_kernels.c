#include "int8_kernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

int facec_cpu_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
}

VNNI void facec_q8_range(const float *x, long n, float *lo, float *hi) {
    __m512 mn = _mm512_set1_ps(INFINITY), mx = _mm512_set1_ps(-INFINITY);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        mn = _mm512_min_ps(mn, v);
        mx = _mm512_max_ps(mx, v);
    }
    float a = _mm512_reduce_min_ps(mn), b = _mm512_reduce_max_ps(mx);
    for (; i < n; i++) {
        if (x[i] < a) a = x[i];
        if (x[i] > b) b = x[i];
    }
    *lo = a;
    *hi = b;
}

VNNI void facec_q8_quantize_row(const float *x, long W, long C, long C4, float inv, int zp, uint8_t *dst) {
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i vzp = _mm512_set1_epi32(zp), v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
    if (C == C4 && C % 16 == 0) {
        long n = W * C, i = 0;
        for (; i < n; i += 16) {
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv)), vzp);
            q = _mm512_min_epi32(_mm512_max_epi32(q, v0), v255);
            _mm_storeu_si128((__m128i *)(dst + i), _mm512_cvtepi32_epi8(q));
        }
        return;
    }
    /* Pixel by pixel, 16 channels at a time, masked: channels C..C4-1 get zp. */
    for (long p = 0; p < W; p++) {
        const float *xp = x + p * C;
        uint8_t *dp = dst + p * C4;
        for (long c0 = 0; c0 < C4; c0 += 16) {
            long real = C - c0, stored = C4 - c0;
            __mmask16 in = real >= 16 ? (__mmask16)0xFFFF : real > 0 ? (__mmask16)((1u << real) - 1) : 0;
            __mmask16 out = stored >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << stored) - 1);
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(in, xp + c0), vinv)), vzp);
            q = _mm512_mask_blend_epi32(in, vzp, _mm512_min_epi32(_mm512_max_epi32(q, v0), v255));
            _mm_mask_storeu_epi8(dp + c0, out, _mm512_cvtepi32_epi8(q));
        }
    }
}

/* The epilogue of one 16-channel vector, its per-channel terms hoisted out
   of the pixel loop: (acc − corr)·s + bias with corr = zp·Σw and
   s = scale·wscale, then ReLU and a masked store. */
typedef struct { __m512i corr; __m512 s, bias; } epilogue16;

VNNI static inline epilogue16 epilogue_for(const int32_t *colsum, int zp, float scale, const float *wscale, const float *bias) {
    epilogue16 e;
    e.corr = _mm512_mullo_epi32(_mm512_set1_epi32(zp), _mm512_loadu_si512(colsum));
    e.s = _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_loadu_ps(wscale));
    e.bias = _mm512_loadu_ps(bias);
    return e;
}

/* lo, hi: running range of what is stored (the padding channels hold
   exactly 0, which every range contains anyway). */
VNNI static inline void finish16(__m512i acc, epilogue16 e, int relu, float *out, int valid, __m512 *lo, __m512 *hi) {
    if (valid <= 0) return;
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, e.corr)), e.s, e.bias);
    if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    *lo = _mm512_min_ps(*lo, v);
    *hi = _mm512_max_ps(*hi, v);
    if (valid >= 16) _mm512_storeu_ps(out, v);
    else _mm512_mask_storeu_ps(out, (__mmask16)((1u << valid) - 1), v);
}

#define P 12   /* = FACEC_Q8_TILE_PIXELS */

VNNI static void tile32(const uint8_t *x, const long *px, int n, long k4, long row, int KH,
                        const int8_t *w, const int32_t *colsum, int zp, float scale,
                        const float *wscale, const float *bias, int relu, float *out, long CO, int valid, float *range) {
    __m512i a[P][2];
#pragma clang loop unroll(full)
    for (int j = 0; j < P; j++) a[j][0] = a[j][1] = _mm512_setzero_si512();
    const uint8_t *p[P];
#pragma clang loop unroll(full)
    for (int j = 0; j < P; j++) p[j] = x + px[j];
    for (int ky = 0; ky < KH; ky++) {
        const int8_t *wk = w + (long)ky * k4 * 128;
        for (long k = 0; k < k4; k++) {
            __m512i w0 = _mm512_loadu_si512(wk + k * 128), w1 = _mm512_loadu_si512(wk + k * 128 + 64);
#pragma clang loop unroll(full)
            for (int j = 0; j < P; j++) {
                int32_t four;
                memcpy(&four, p[j] + k * 4, 4);
                __m512i b = _mm512_set1_epi32(four);
                a[j][0] = _mm512_dpbusd_epi32(a[j][0], b, w0);
                a[j][1] = _mm512_dpbusd_epi32(a[j][1], b, w1);
            }
        }
#pragma clang loop unroll(full)
        for (int j = 0; j < P; j++) p[j] += row;
    }
    const epilogue16 e0 = epilogue_for(colsum, zp, scale, wscale, bias);
    const epilogue16 e1 = epilogue_for(colsum + 16, zp, scale, wscale + 16, bias + 16);
    __m512 lo = _mm512_set1_ps(range[0]), hi = _mm512_set1_ps(range[1]);
    /* Constant indices only (all P unrolled, the test inside), so the
       accumulators stay in registers: a[j] with a variable j would put
       them on the stack, zeroed by memset, a stall per tile. */
#pragma clang loop unroll(full)
    for (int j = 0; j < P; j++) {
        if (j < n) {
            finish16(a[j][0], e0, relu, out + j * CO, valid, &lo, &hi);
            finish16(a[j][1], e1, relu, out + j * CO + 16, valid - 16, &lo, &hi);
        }
    }
    range[0] = _mm512_reduce_min_ps(lo);
    range[1] = _mm512_reduce_max_ps(hi);
}

VNNI static void tile16(const uint8_t *x, const long *px, int n, long k4, long row, int KH,
                        const int8_t *w, const int32_t *colsum, int zp, float scale,
                        const float *wscale, const float *bias, int relu, float *out, long CO, int valid, float *range) {
    __m512i a[P];
#pragma clang loop unroll(full)
    for (int j = 0; j < P; j++) a[j] = _mm512_setzero_si512();
    const uint8_t *p[P];
#pragma clang loop unroll(full)
    for (int j = 0; j < P; j++) p[j] = x + px[j];
    for (int ky = 0; ky < KH; ky++) {
        const int8_t *wk = w + (long)ky * k4 * 64;
        for (long k = 0; k < k4; k++) {
            __m512i w0 = _mm512_loadu_si512(wk + k * 64);
#pragma clang loop unroll(full)
            for (int j = 0; j < P; j++) {
                int32_t four;
                memcpy(&four, p[j] + k * 4, 4);
                a[j] = _mm512_dpbusd_epi32(a[j], _mm512_set1_epi32(four), w0);
            }
        }
#pragma clang loop unroll(full)
        for (int j = 0; j < P; j++) p[j] += row;
    }
    const epilogue16 e = epilogue_for(colsum, zp, scale, wscale, bias);
    __m512 lo = _mm512_set1_ps(range[0]), hi = _mm512_set1_ps(range[1]);
#pragma clang loop unroll(full)
    for (int j = 0; j < P; j++)
        if (j < n) finish16(a[j], e, relu, out + j * CO, valid, &lo, &hi);
    range[0] = _mm512_reduce_min_ps(lo);
    range[1] = _mm512_reduce_max_ps(hi);
}

void facec_q8_conv_tile(const uint8_t *x, const long *px, int n, long k4, long row, int KH,
                        const int8_t *w, int cw, const int32_t *colsum, int zp, float scale,
                        const float *wscale, const float *bias, int relu, float *out, long CO, int valid, float *range) {
    if (cw == 32) tile32(x, px, n, k4, row, KH, w, colsum, zp, scale, wscale, bias, relu, out, CO, valid, range);
    else tile16(x, px, n, k4, row, KH, w, colsum, zp, scale, wscale, bias, relu, out, CO, valid, range);
}

#else
int facec_cpu_has_avx512_vnni(void) { return 0; }
void facec_q8_range(const float *x, long n, float *lo, float *hi) { (void)x; (void)n; *lo = *hi = 0; }
void facec_q8_quantize_row(const float *x, long W, long C, long C4, float inv, int zp, uint8_t *dst) {
    (void)x; (void)W; (void)C; (void)C4; (void)inv; (void)zp; (void)dst;
}
void facec_q8_conv_tile(const uint8_t *x, const long *px, int n, long k4, long row, int KH,
                        const int8_t *w, int cw, const int32_t *colsum, int zp, float scale,
                        const float *wscale, const float *bias, int relu, float *out, long CO, int valid, float *range) {
    (void)range; (void)x; (void)px; (void)n; (void)k4; (void)row; (void)KH; (void)w; (void)cw; (void)colsum; (void)zp;
    (void)scale; (void)wscale; (void)bias; (void)relu; (void)out; (void)CO; (void)valid;
}
#endif
