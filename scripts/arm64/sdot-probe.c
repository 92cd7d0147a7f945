/* The negative control of scripts/arm64/check.sh: one SDOT instruction,
   which qemu must refuse (SIGILL) as a Cortex-A53 or A72, as the real cores
   do, so a clean conformance run there shows the kernels never issue it. */
#include <arm_neon.h>
#include <stdio.h>

__attribute__((target("dotprod"))) int main(void) {
    volatile int8_t a[16] = {1, 2, 3, 4}, b[16] = {1, 1, 1, 1};
    int32x4_t r = vdotq_s32(vdupq_n_s32(0), vld1q_s8((const int8_t *)a), vld1q_s8((const int8_t *)b));
    printf("sdot %d\n", vgetq_lane_s32(r, 0));
    return 0;
}
