#ifndef FACEC_SHA256_H
#define FACEC_SHA256_H
#include <stddef.h>
#include <stdint.h>

/// SHA-256 of a byte stream (the source weight file's digest, recorded in the
/// model's provenance). Uses the x86 SHA extensions when the CPU has them
/// (checked once at run time), a portable loop otherwise.
typedef struct {
    uint32_t h[8];
    uint64_t length;
    uint8_t block[64];
    size_t pending;
} facec_sha256;

void facec_sha256_init(facec_sha256 *s);
void facec_sha256_update(facec_sha256 *s, const void *data, size_t length);
void facec_sha256_final(facec_sha256 *s, uint8_t digest[32]);
/// Whether the SHA extensions are used; tests force the portable loop to check both.
int facec_sha256_uses_extensions(void);
void facec_sha256_force_portable(int portable);

#endif
