#ifndef FACEC_FINITE_H
#define FACEC_FINITE_H
#include <stddef.h>

/// 1 when none of the `count` little-endian IEEE values at `data` is a NaN or
/// an infinity (exponent bits all ones), else 0. For the model loader, which
/// refuses non-finite weights; the loops vectorise (one pass at memory speed).
int facec_all_finite_f32(const void *data, size_t count);
int facec_all_finite_f16(const void *data, size_t count);

#endif
