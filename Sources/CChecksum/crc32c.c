// CRC-32C in C because Swift cannot reach the crc32 instruction directly; the
// model data section (hundreds of MB for VGG-Face) is checked on every load, so
// the hardware path matters: ~3 streams interleaved would be faster still, but
// one stream already runs at several GB/s.
#include "crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

static uint32_t table[8][256];
static int table_ready;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
    table_ready = 1;
}

static uint32_t crc32c_table(uint32_t crc, const unsigned char *p, size_t n) {
    if (!table_ready) build_table();
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24] ^
              table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^ table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xFF];
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) { c = _mm_crc32_u8((uint32_t)c, *p++); n--; }
    while (n >= 8) {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

#if defined(__x86_64__)
// Three streams at once: the crc32 instruction has a latency of 3 cycles and a
// throughput of 1, so one stream uses a third of it. The buffer's thirds are
// checksummed together and joined with facec_crc32c_combine (about a
// microsecond, so only for buffers of some size).
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw3(uint32_t crc, const unsigned char *p, size_t n) {
    size_t third = (n / 3) & ~(size_t)7;
    const unsigned char *b = p + third, *c = p + 2 * third;
    uint64_t ca = crc, cb = 0xFFFFFFFFu, cc = 0xFFFFFFFFu;
    for (size_t i = 0; i < third; i += 8) {
        uint64_t va, vb, vc;
        __builtin_memcpy(&va, p + i, 8);
        __builtin_memcpy(&vb, b + i, 8);
        __builtin_memcpy(&vc, c + i, 8);
        ca = _mm_crc32_u64(ca, va);
        cb = _mm_crc32_u64(cb, vb);
        cc = _mm_crc32_u64(cc, vc);
    }
    size_t rest = n - 3 * third;
    uint32_t last = ~crc32c_hw((uint32_t)cc, c + third, rest);
    uint32_t joined = facec_crc32c_combine(~(uint32_t)ca, ~(uint32_t)cb, third);
    return ~facec_crc32c_combine(joined, last, third + rest);
}
#endif

uint32_t facec_crc32c(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return ~(length >= 65536 ? crc32c_hw3(crc, p, length) : crc32c_hw(crc, p, length));
#endif
    return ~crc32c_table(crc, p, length);
}

// CRC-32C of A followed by B from the CRCs of A and B and B's length, so that
// slices checksummed on several threads (or streams) give the whole
// checksum: crc(A||B) = crc(A) * x^(8 len(B)) mod P xor crc(B), in the
// reflected bit order where 0x80000000 is x^0 (zlib's multmodp/x2nmodp
// method, by Mark Adler, with the Castagnoli polynomial). About 50 small
// multiplications per call.
static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = (uint32_t)1 << 31, product = 0;
    for (;;) {
        if (a & m) {
            product ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return product;
}

uint32_t facec_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2) {
    uint32_t power = (uint32_t)1 << 30;                   // x^1
    for (int i = 0; i < 3; i++) power = multmodp(power, power);   // x^8: one byte
    uint32_t shift = (uint32_t)1 << 31;                   // x^0
    for (size_t n = len2; n; n >>= 1) {
        if (n & 1) shift = multmodp(power, shift);
        if (n > 1) power = multmodp(power, power);
    }
    return multmodp(shift, crc1) ^ crc2;
}
