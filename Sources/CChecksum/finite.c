#include "finite.h"
#include <stdint.h>
#include <string.h>

int facec_all_finite_f32(const void *data, size_t count) {
    const unsigned char *p = data;
    uint32_t bad = 0;
    size_t i = 0;
    // Blocks without an early exit vectorise; a block's verdict ends the scan.
    for (; i + 1024 <= count; i += 1024) {
        for (size_t k = 0; k < 1024; k++) {
            uint32_t v;
            memcpy(&v, p + 4 * (i + k), 4);
            bad |= (uint32_t)((v & 0x7f800000u) == 0x7f800000u);
        }
        if (bad) return 0;
    }
    for (; i < count; i++) {
        uint32_t v;
        memcpy(&v, p + 4 * i, 4);
        bad |= (uint32_t)((v & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

int facec_all_finite_f16(const void *data, size_t count) {
    const unsigned char *p = data;
    uint32_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        bad |= (uint32_t)((v & 0x7c00u) == 0x7c00u);
    }
    return bad == 0;
}
