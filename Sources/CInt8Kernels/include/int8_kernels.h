#ifndef FACEC_INT8_KERNELS_H
#define FACEC_INT8_KERNELS_H

#include <stdint.h>

/* Convolutions on 8-bit activations and 8-bit weights with byte dot-product
   instructions: on x86-64 AVX-512 VNNI (vpdpbusd: 64 unsigned×signed byte
   products summed into 16 int32 lanes per instruction), on aarch64 ARMv8.2's
   SDOT (16 signed byte products into 4 lanes). Either is 4× the multiply-adds
   of a float FMA of the same width. Written in C because Swift has no way to
   ask for those instructions. Call these functions only when
   facec_cpu_has_avx512_vnni() (x86-64) or facec_cpu_has_arm_dotprod()
   (aarch64) is 1; both kernels give the same bytes and the same floats.

   Activations are quantised per tensor: q = clamp(round(x / scale) + zp, 0, 255),
   so 0.0 is exactly zp (zero padding stays exact). Weights are symmetric int8
   per output channel. An output channel's float value is
       (Σ q·w − zp·Σ w) · scale · wscale[c] + bias[c]
   and the integer sum is exact (no saturation: K·255·127 < 2^31 for K < 66,000). */

/* 1 if this CPU and the OS support AVX-512 F, BW, VL and VNNI. */
int facec_cpu_has_avx512_vnni(void);

/* 1 if this aarch64 CPU has the dot-product instructions (HWCAP_ASIMDDP,
   from the kernel); 0 on Cortex-A53/A72 and on other architectures. */
int facec_cpu_has_arm_dotprod(void);

/* The smallest and largest of n ≥ 1 floats. With NaN among them the result
   is unspecified (the layer's output is then as meaningless as float
   arithmetic would make it), never a fault. */
void facec_q8_range(const float *x, long n, float *lo, float *hi);

/* One row of W pixels × C floats into W pixels × C4 bytes (C4 ≥ C; the
   extra channels get zp): q = clamp(round(x · inv) + zp, 0, 255). */
void facec_q8_quantize_row(const float *x, long W, long C, long C4, float inv, int zp, uint8_t *dst);

/* Pixels per conv tile. */
enum { FACEC_Q8_TILE_PIXELS = 12 };

/* One tile: up to 12 output pixels × one chunk of cw (16 or 32) output channels.
   x + px[j] is pixel j's window origin in the padded u8 input (px has 12
   entries; pass the last valid one again for missing pixels: their sums are
   computed and dropped). The window is KH rows of k4 groups of 4 bytes, rows
   `row` bytes apart. w: the chunk's weights [KH][k4][cw][4] (int8).
   colsum: Σ w per channel (cw entries); wscale, bias: cw entries each.
   Output pixel j goes to out + j·CO; only the first `valid` channels of the
   chunk and the first n pixels are stored. range[0], range[1] (in/out): the
   smallest and largest value stored so far, widened by this tile's. */
void facec_q8_conv_tile(const uint8_t *x, const long *px, int n, long k4, long row, int KH,
                        const int8_t *w, int cw, const int32_t *colsum, int zp, float scale,
                        const float *wscale, const float *bias, int relu, float *out, long CO, int valid, float *range);

#endif
