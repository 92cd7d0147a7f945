/* The per-thread error text behind facec_last_error(): C11 thread-local
 * storage, so a failure on one thread never overwrites another's message. */
#include <string.h>
#include "facec_private.h"

static _Thread_local char last_error[1024];

const char *facec_last_error(void) { return last_error; }

void facec__set_error(const char *message) {
    size_t n = message ? strlen(message) : 0;
    if (n >= sizeof last_error) n = sizeof last_error - 1;
    if (n) memcpy(last_error, message, n);
    last_error[n] = 0;
}
