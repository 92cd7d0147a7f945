// SHA-256 (FIPS 180-4) of source weight files (hundreds of MB for VGG-Face),
// in C for the SHA extensions (sha256rnds2/msg1/msg2, ~5x the portable loop),
// chosen at run time; the portable loop runs everywhere else.
#include "sha256.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = hh + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
        p += 64;
    }
}

#if defined(__x86_64__)
// The state lives as two vectors, ABEF and CDGH, the order sha256rnds2 takes.
// Each group of 4 rounds: W (4 words) + K, two rnds2 steps; from group 4 on,
// W[i..i+3] = msg2(msg1(W[i-16..], W[i-12..]) + W[i-7..i-4], W[i-4..]).
__attribute__((target("sha,ssse3,sse4.1")))
static void blocks_shani(uint32_t h[8], const uint8_t *p, size_t blocks) {
    const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&h[0]);      // A B C D (lanes 0..3)
    __m128i state1 = _mm_loadu_si128((const __m128i *)&h[4]);   // E F G H
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                         // B A D C
    state1 = _mm_shuffle_epi32(state1, 0x1B);                   // H G F E
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);           // F E B A = ABEF
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);                // H G D C = CDGH
    while (blocks--) {
        __m128i abef = state0, cdgh = state1, w[4];
        for (int g = 0; g < 16; g++) {
            __m128i m;
            if (g < 4) {
                m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), byteswap);
            } else {
                // w[g&3] holds group g-4, w[(g+1)&3] g-3, w[(g+2)&3] g-2, w[(g+3)&3] g-1.
                m = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                m = _mm_add_epi32(m, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                m = _mm_sha256msg2_epu32(m, w[(g + 3) & 3]);
            }
            w[g & 3] = m;
            __m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * g]));
            state1 = _mm_sha256rnds2_epu32(state1, state0, k);
            state0 = _mm_sha256rnds2_epu32(state0, state1, _mm_shuffle_epi32(k, 0x0E));
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
        p += 64;
    }
    tmp = _mm_shuffle_epi32(state0, 0x1B);                      // FEBA -> ABEF reversed
    state1 = _mm_shuffle_epi32(state1, 0xB1);
    state0 = _mm_blend_epi16(tmp, state1, 0xF0);                // A B C D
    state1 = _mm_alignr_epi8(state1, tmp, 8);                   // E F G H
    _mm_storeu_si128((__m128i *)&h[0], state0);
    _mm_storeu_si128((__m128i *)&h[4], state1);
}

static int has_sha_extensions(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 29)) != 0;   // SHA
}
#endif

static int use_portable = -1;   // -1: not decided yet

void facec_sha256_force_portable(int portable) { use_portable = portable ? 1 : 0; }

int facec_sha256_uses_extensions(void) {
#if defined(__x86_64__)
    if (use_portable < 0) use_portable = has_sha_extensions() ? 0 : 1;
    return !use_portable;
#else
    return 0;
#endif
}

static void blocks(uint32_t h[8], const uint8_t *p, size_t n) {
#if defined(__x86_64__)
    if (facec_sha256_uses_extensions()) { blocks_shani(h, p, n); return; }
#endif
    blocks_portable(h, p, n);
}

void facec_sha256_init(facec_sha256 *s) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->length = 0;
    s->pending = 0;
}

void facec_sha256_update(facec_sha256 *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->length += n;
    if (s->pending) {
        size_t take = 64 - s->pending < n ? 64 - s->pending : n;
        memcpy(s->block + s->pending, p, take);
        s->pending += take; p += take; n -= take;
        if (s->pending < 64) return;
        blocks(s->h, s->block, 1);
        s->pending = 0;
    }
    if (n >= 64) { blocks(s->h, p, n / 64); p += n / 64 * 64; n %= 64; }
    memcpy(s->block, p, n);
    s->pending = n;
}

void facec_sha256_final(facec_sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->length * 8;
    uint8_t tail[72] = {0x80};
    size_t pad = (s->pending < 56 ? 56 : 120) - s->pending;
    for (int i = 0; i < 8; i++) tail[pad + i] = (uint8_t)(bits >> (56 - 8 * i));
    facec_sha256_update(s, tail, pad + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24); out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8); out[4 * i + 3] = (uint8_t)s->h[i];
    }
}
