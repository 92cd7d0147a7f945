/* Internal to libfacec (the Swift side of the C API): not installed. */
#ifndef FACEC_PRIVATE_H
#define FACEC_PRIVATE_H
#include "facec.h"

/* Sets this thread's facec_last_error() text (copied, truncated to 1023 bytes). */
void facec__set_error(const char *message);

#endif
