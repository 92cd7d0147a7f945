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

int facec_cpu_has_arm_dotprod(void) { return 0; }

#elif defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>

/* ARMv8.2's SDOT (Cortex-A55/A76 and later: Pi 5, RK3588, Jetson Orin):
   16 signed byte products summed into 4 int32 lanes per instruction. The
   Pi 3/4's A53/A72 lack it, so everything compiled for it is behind
   target("dotprod") and only reached when the kernel reports it. */
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#define DOT __attribute__((target("dotprod")))

int facec_cpu_has_avx512_vnni(void) { return 0; }
int facec_cpu_has_arm_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }

/* Plain NEON (every ARMv8 core). */
void facec_q8_range(const float *x, long n, float *lo, float *hi) {
    float32x4_t mn = vdupq_n_f32(INFINITY), mx = vdupq_n_f32(-INFINITY);
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        mn = vminq_f32(mn, v);
        mx = vmaxq_f32(mx, v);
    }
    float a = vminvq_f32(mn), b = vmaxvq_f32(mx);
    for (; i < n; i++) {
        if (x[i] < a) a = x[i];
        if (x[i] > b) b = x[i];
    }
    *lo = a;
    *hi = b;
}

/* vcvtnq rounds to nearest, ties to even: the x86 kernels' MXCSR rounding,
   so both quantise a tensor to the same bytes. */
static inline uint8_t quantize1(float x, float inv, int zp) {
    int32_t q = vcvtns_s32_f32(x * inv) + zp;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

void facec_q8_quantize_row(const float *x, long W, long C, long C4, float inv, int zp, uint8_t *dst) {
    const float32x4_t vinv = vdupq_n_f32(inv);
    const int32x4_t vzp = vdupq_n_s32(zp), v0 = vdupq_n_s32(0), v255 = vdupq_n_s32(255);
    if (C == C4 && C % 4 == 0) {
        long n = W * C, i = 0;
        for (; i + 8 <= n; i += 8) {
            int32x4_t a = vqaddq_s32(vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i), vinv)), vzp);
            int32x4_t b = vqaddq_s32(vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 4), vinv)), vzp);
            a = vminq_s32(vmaxq_s32(a, v0), v255);
            b = vminq_s32(vmaxq_s32(b, v0), v255);
            uint16x8_t h = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(a)), vmovn_u32(vreinterpretq_u32_s32(b)));
            vst1_u8(dst + i, vmovn_u16(h));
        }
        for (; i < n; i++) dst[i] = quantize1(x[i], inv, zp);
        return;
    }
    for (long p = 0; p < W; p++) {
        for (long c = 0; c < C; c++) dst[p * C4 + c] = quantize1(x[p * C + c], inv, zp);
        for (long c = C; c < C4; c++) dst[p * C4 + c] = (uint8_t)zp;
    }
}

/* SDOT multiplies signed bytes, the activations are unsigned: each byte is
   read as q − 128 (its top bit flipped), and the correction becomes
   (zp − 128)·Σw, still exact in int32. */
#define NP 6                 /* pixels per register tile: 6 × 16 channels = 24 accumulators */

/* Channels [16h, 16h + 16) of pixels [j0, j0 + NP) of a tile. `wk` points at the
   group's 16-channel slice; `gstride` is the bytes between groups (cw·4). */
DOT static void dot6x16(const uint8_t *const *p, long k4, long row, int KH, const int8_t *w, long gstride,
                        int32x4_t acc[NP][4]) {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    for (int j = 0; j < NP; j++) for (int v = 0; v < 4; v++) acc[j][v] = vdupq_n_s32(0);
    for (int ky = 0; ky < KH; ky++) {
        const int8_t *wk = w + (long)ky * k4 * gstride;
        const long off = (long)ky * row;
        long k = 0;
        /* Four groups per step: one 16-byte load per pixel, its 4-byte
           groups taken by lane (no broadcasts). */
        for (; k + 4 <= k4; k += 4) {
            int8x16_t x[NP];
            for (int j = 0; j < NP; j++) x[j] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p[j] + off + k * 4), flip));
#define GROUP(L)                                                                              \
            {                                                                                 \
                const int8_t *wg = wk + (k + L) * gstride;                                    \
                int8x16_t w0 = vld1q_s8(wg), w1 = vld1q_s8(wg + 16), w2 = vld1q_s8(wg + 32), w3 = vld1q_s8(wg + 48); \
                for (int j = 0; j < NP; j++) {                                                \
                    acc[j][0] = vdotq_laneq_s32(acc[j][0], w0, x[j], L);                      \
                    acc[j][1] = vdotq_laneq_s32(acc[j][1], w1, x[j], L);                      \
                    acc[j][2] = vdotq_laneq_s32(acc[j][2], w2, x[j], L);                      \
                    acc[j][3] = vdotq_laneq_s32(acc[j][3], w3, x[j], L);                      \
                }                                                                             \
            }
            GROUP(0) GROUP(1) GROUP(2) GROUP(3)
#undef GROUP
        }
        for (; k < k4; k++) {
            const int8_t *wg = wk + k * gstride;
            int8x16_t w0 = vld1q_s8(wg), w1 = vld1q_s8(wg + 16), w2 = vld1q_s8(wg + 32), w3 = vld1q_s8(wg + 48);
            for (int j = 0; j < NP; j++) {
                uint32_t four;
                memcpy(&four, p[j] + off + k * 4, 4);
                int8x16_t b = vreinterpretq_s8_u32(vdupq_n_u32(four ^ 0x80808080u));
                acc[j][0] = vdotq_s32(acc[j][0], w0, b);
                acc[j][1] = vdotq_s32(acc[j][1], w1, b);
                acc[j][2] = vdotq_s32(acc[j][2], w2, b);
                acc[j][3] = vdotq_s32(acc[j][3], w3, b);
            }
        }
    }
}

/* The epilogue of one 4-channel vector: (acc − (zp−128)·Σw)·scale·wscale + bias,
   ReLU, stored up to `valid` channels. The range takes whole 16-channel
   groups as the AVX-512 kernel does (padding channels are exactly 0), so
   both choose the next layer's quantisation alike. */
static inline float32x4_t epilogue4(int32x4_t acc, const int32_t *colsum, int zp, float scale,
                                    const float *wscale, const float *bias, int relu) {
    int32x4_t corr = vmulq_n_s32(vld1q_s32(colsum), zp - 128);
    float32x4_t s = vmulq_n_f32(vld1q_f32(wscale), scale);
    float32x4_t v = vfmaq_f32(vld1q_f32(bias), vcvtq_f32_s32(vsubq_s32(acc, corr)), s);
    return relu ? vmaxq_f32(v, vdupq_n_f32(0)) : v;
}

void facec_q8_conv_tile(const uint8_t *x, const long *px, int n, long k4, long row, int KH,
                        const int8_t *w, int cw, const int32_t *colsum, int zp, float scale,
                        const float *wscale, const float *bias, int relu, float *out, long CO, int valid, float *range) {
    float32x4_t lo = vdupq_n_f32(range[0]), hi = vdupq_n_f32(range[1]);
    for (int h = 0; h * 16 < cw; h++) {
        const int hv = valid - h * 16;          /* channels of this 16-group to store */
        if (hv <= 0) break;
        for (int j0 = 0; j0 < n; j0 += NP) {
            const uint8_t *p[NP];
            for (int j = 0; j < NP; j++) p[j] = x + px[j0 + j < FACEC_Q8_TILE_PIXELS ? j0 + j : FACEC_Q8_TILE_PIXELS - 1];
            int32x4_t acc[NP][4];
            dot6x16(p, k4, row, KH, w + h * 64, (long)cw * 4, acc);
            for (int j = 0; j < NP && j0 + j < n; j++) {
                float *o = out + (long)(j0 + j) * CO + h * 16;
                for (int v = 0; v < 4; v++) {
                    const int c = h * 16 + v * 4;
                    float32x4_t r = epilogue4(acc[j][v], colsum + c, zp, scale, wscale + c, bias + c, relu);
                    lo = vminq_f32(lo, r);
                    hi = vmaxq_f32(hi, r);
                    const int left = hv - v * 4;
                    if (left >= 4) vst1q_f32(o + v * 4, r);
                    else if (left > 0) { float t[4]; vst1q_f32(t, r); for (int e = 0; e < left; e++) o[v * 4 + e] = t[e]; }
                }
            }
        }
    }
    range[0] = vminvq_f32(lo);
    range[1] = vmaxvq_f32(hi);
}

#else
int facec_cpu_has_avx512_vnni(void) { return 0; }
int facec_cpu_has_arm_dotprod(void) { return 0; }
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
