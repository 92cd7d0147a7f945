#ifndef FACEC_CMATIO_SHIM_H
#define FACEC_CMATIO_SHIM_H
#include <matio.h>
#endif
