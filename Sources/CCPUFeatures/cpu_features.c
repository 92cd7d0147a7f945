#include "cpu_features.h"

const char *facec_missing_cpu_feature(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx")) return "AVX";
    if (!__builtin_cpu_supports("avx2")) return "AVX2";
    if (!__builtin_cpu_supports("fma")) return "FMA";
    if (!__builtin_cpu_supports("bmi2")) return "BMI2";
#endif
    return 0;
}
