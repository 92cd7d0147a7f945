#ifndef FACEC_CRC32C_H
#define FACEC_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli), the checksum of the .fgraph preamble, header and data.
/// Pass 0 as `crc` to start; feed the result back in to continue over more bytes.
/// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run
/// time, so the library still runs on CPUs without it), a table otherwise.
uint32_t facec_crc32c(uint32_t crc, const void *data, size_t length);

/// The CRC-32C of A followed by B, from crc(A), crc(B) and B's length (for
/// data checksummed in slices on several threads).
uint32_t facec_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);

#endif
