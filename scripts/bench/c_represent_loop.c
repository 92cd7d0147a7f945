/* The C API side of scripts/bench/python_overhead.py: one model and session
 * opened once, then `rounds` calls of facec_embed_file (or, with a pixel file
 * from the Python side, facec_embed_pixels), each call timed; prints the
 * median call time in microseconds. Build: cc -O2 -Idist/include c_represent_loop.c dist/lib/libfacec.so */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "facec.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL PHOTO|PIXELS.raw WIDTH|0 HEIGHT|0 ROUNDS (flags: skip detection when WIDTH > 0 or the photo is a crop)\n", argv[0]);
        return 2;
    }
    int width = atoi(argv[3]), height = atoi(argv[4]), rounds = atoi(argv[5]);
    unsigned flags = (unsigned)atoi(getenv("FACEC_FLAGS") ? getenv("FACEC_FLAGS") : "0");
    facec_model *model;
    facec_session *session;
    if (facec_model_open(argv[1], &model) != FACEC_OK || facec_session_open(model, 1, &session) != FACEC_OK) {
        fprintf(stderr, "%s\n", facec_last_error());
        return 1;
    }
    unsigned char *pixels = NULL;
    if (width > 0) {
        pixels = malloc((size_t)width * height * 3);
        FILE *f = fopen(argv[2], "rb");
        if (!f || fread(pixels, 3, (size_t)width * height, f) != (size_t)width * height) { fprintf(stderr, "cannot read %s\n", argv[2]); return 1; }
        fclose(f);
    }
    double *t = malloc(sizeof(double) * rounds);
    for (int i = -10; i < rounds; i++) {  /* 10 warm-up calls */
        facec_faces *faces;
        double start = now_us();
        facec_status s = width > 0 ? facec_embed_pixels(session, pixels, width, height, (size_t)width * 3, FACEC_BGR, flags, &faces)
                                   : facec_embed_file(session, argv[2], flags, &faces);
        if (s != FACEC_OK) { fprintf(stderr, "%s\n", facec_last_error()); return 1; }
        facec_faces_free(faces);
        if (i >= 0) t[i] = now_us() - start;
    }
    qsort(t, rounds, sizeof(double), compare);
    printf("%.3f\n", t[rounds / 2]);
    return 0;
}
