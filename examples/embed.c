/*
 * embed.c: the facec C API in a small program. Prints one JSON line per face
 * of each photo, with the fields of `facec run` (input, face_index,
 * facial_area, face_confidence, embedding, dim), and with --verify the
 * distance and verdict between the first faces of two photos.
 *
 *   cc -O2 -Iinclude examples/embed.c -Ldist/lib -lfacec -o embed
 *   ./embed MODEL.fgraph PHOTO...
 *   ./embed --verify MODEL.fgraph PHOTO1 PHOTO2
 *   ./embed --bgr-pixels MODEL.fgraph W H RAW   (raw BGR bytes, e.g. a camera frame)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "facec.h"

static int die(const char *what) {
    fprintf(stderr, "embed: %s: %s\n", what, facec_last_error());
    return 1;
}

static void print_point(int has, int x, int y) {
    if (has) printf("[%d,%d]", x, y); else printf("null");
}

static void print_faces(const char *input, const facec_faces *faces, size_t dim) {
    for (size_t i = 0; i < facec_faces_count(faces); i++) {
        const facec_face *f = facec_faces_face(faces, i);
        const float *e = facec_faces_embedding(faces, i);
        printf("{\"input\":\"%s\",\"face_index\":%zu,\"facial_area\":{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d,\"left_eye\":",
               input, i, f->x, f->y, f->w, f->h);
        print_point(f->has_left_eye, f->left_eye_x, f->left_eye_y);
        printf(",\"right_eye\":");
        print_point(f->has_right_eye, f->right_eye_x, f->right_eye_y);
        printf("},\"face_confidence\":%.15g,\"embedding\":[", f->confidence);
        for (size_t k = 0; k < dim; k++) printf(k ? ",%.9g" : "%.9g", e[k]);
        printf("],\"dim\":%zu}\n", dim);
    }
}

int main(int argc, char **argv) {
    int verify = argc > 1 && strcmp(argv[1], "--verify") == 0;
    int pixels = argc > 1 && strcmp(argv[1], "--bgr-pixels") == 0;
    int first = 1 + (verify || pixels);
    if (argc < first + 2 || (verify && argc != first + 3) || (pixels && argc != first + 4)) {
        fprintf(stderr, "usage: embed [--verify | --bgr-pixels] MODEL.fgraph PHOTO... (%s)\n", facec_version());
        return 64;
    }
    facec_model *model;
    facec_session *session;
    if (facec_model_open(argv[first], &model) != FACEC_OK) return die("open model");
    if (facec_session_open(model, 1, &session) != FACEC_OK) return die("open session");
    size_t dim = facec_model_dim(model);
    int status = 0;

    if (pixels) {
        int w = atoi(argv[first + 1]), h = atoi(argv[first + 2]);
        FILE *in = fopen(argv[first + 3], "rb");
        if (!in || w <= 0 || h <= 0) { fprintf(stderr, "embed: cannot read %s\n", argv[first + 3]); return 1; }
        size_t n = (size_t)w * (size_t)h * 3;
        unsigned char *bgr = malloc(n);
        if (!bgr || fread(bgr, 1, n, in) != n) { fprintf(stderr, "embed: %s is not %dx%d BGR\n", argv[first + 3], w, h); return 1; }
        fclose(in);
        facec_faces *faces;
        if (facec_embed_pixels(session, bgr, w, h, (size_t)w * 3, FACEC_BGR, 0, &faces) != FACEC_OK) status = die(argv[first + 3]);
        else { print_faces(argv[first + 3], faces, dim); facec_faces_free(faces); }
        free(bgr);
    } else if (verify) {
        facec_faces *a, *b;
        if (facec_embed_file(session, argv[first + 1], 0, &a) != FACEC_OK) return die(argv[first + 1]);
        if (facec_embed_file(session, argv[first + 2], 0, &b) != FACEC_OK) return die(argv[first + 2]);
        double distance, threshold;
        int verified;
        if (facec_verify(model, facec_faces_embedding(a, 0), facec_faces_embedding(b, 0), dim, FACEC_COSINE,
                         &distance, &verified) != FACEC_OK) return die("verify");
        if (facec_model_threshold(model, FACEC_COSINE, &threshold) != FACEC_OK) return die("threshold");
        printf("{\"verified\":%s,\"distance\":%.6f,\"threshold\":%g,\"metric\":\"cosine\"}\n",
               verified ? "true" : "false", distance, threshold);
        facec_faces_free(a);
        facec_faces_free(b);
    } else {
        for (int i = first + 1; i < argc; i++) {
            facec_faces *faces;
            if (facec_embed_file(session, argv[i], 0, &faces) != FACEC_OK) { status = die(argv[i]); continue; }
            print_faces(argv[i], faces, dim);
            facec_faces_free(faces);
        }
    }
    facec_session_close(session);
    facec_model_close(model);
    return status;
}
