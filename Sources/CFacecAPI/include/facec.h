/*
 * facec.h: the C API of the facec runtime (libfacec.so / libfacec.a).
 *
 * Open a compiled .fgraph model once, open one session per thread, and embed
 * photos (files or RGB/BGR pixel buffers): each detected face comes back with
 * deepface's facial area, face confidence and the embedding. Distances and
 * verdicts use the model's thresholds, as `facec verify` does.
 *
 * Thread safety: a facec_model is immutable after facec_model_open and may be
 * shared by any number of threads. A facec_session belongs to one thread at a
 * time (it holds the network's activation memory): a call on a session that
 * another thread is inside fails with FACEC_ERROR_ARGUMENT instead of
 * corrupting both results. facec_faces results are independent objects.
 * facec_last_error() is per thread.
 *
 * Handles: every function checks that a handle is one facec gave out and has
 * not been closed or freed; any other pointer (a closed handle, one of
 * another kind, garbage) is refused with FACEC_ERROR_ARGUMENT, or NULL/0 from
 * the accessors, and closing or freeing it again does nothing.
 *
 * Model files are read into memory by facec_model_open: replacing the file
 * later (deploy by writing a new file and renaming it) does not affect an
 * open model; open the new file to use it.
 *
 * Errors: every function that can fail returns a facec_status; on failure
 * facec_last_error() gives one line naming the file and what is wrong (valid
 * until the next failing call on the same thread). Output pointers are set to
 * NULL on failure.
 */
#ifndef FACEC_H
#define FACEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FACEC_API_VERSION 3  /* 2: angular metric, confidence, encoded images in memory, crops, batch distances; 3: facec_model_detector */

typedef enum facec_status {
    FACEC_OK = 0,
    FACEC_ERROR_ARGUMENT = 1,       /* NULL pointer, bad size, unknown flag or metric */
    FACEC_ERROR_IO = 2,             /* a file cannot be opened or read */
    FACEC_ERROR_MODEL = 3,          /* the .fgraph file is malformed, damaged or unsupported */
    FACEC_ERROR_IMAGE = 4,          /* the photo cannot be decoded (or is too large) */
    FACEC_ERROR_NO_FACE = 5,        /* no face detected (see FACEC_NO_ENFORCE_DETECTION) */
    FACEC_ERROR_TOO_MUCH_WORK = 6,  /* detection stopped at its work bound (a hostile cascade) */
    FACEC_ERROR_NO_DETECTOR = 7,    /* detection asked of a model that carries no detector */
    FACEC_ERROR_INTERNAL = 8
} facec_status;

/* Flags for facec_embed_* and facec_detect_*; 0 is deepface's default:
 * detect and align faces when the model carries a detector (facec convert
 * --detector opencv), else take the whole image as the face crop; an image
 * without a face is FACEC_ERROR_NO_FACE. */
#define FACEC_SKIP_DETECTION        1u  /* the image is already a face crop (deepface's "skip") */
#define FACEC_DETECT                2u  /* require the model's detector (FACEC_ERROR_NO_DETECTOR if none) */
#define FACEC_NO_ENFORCE_DETECTION  4u  /* no face: use the whole image (enforce_detection=False) */
#define FACEC_WITH_CROPS            8u  /* facec_detect_* only: keep each face's aligned crop (facec_faces_crop) */

typedef enum facec_pixel_order { FACEC_RGB = 0, FACEC_BGR = 1 } facec_pixel_order;

typedef enum facec_metric {
    FACEC_COSINE = 0,
    FACEC_EUCLIDEAN = 1,
    FACEC_EUCLIDEAN_L2 = 2,
    FACEC_ANGULAR = 3               /* arccos(cosine similarity) / pi */
} facec_metric;

/* One face, in deepface's terms (facial_area and face_confidence): the box in
 * the photo's pixels and the eyes (has_*_eye = 0 when the eye search found
 * none). Without detection the box is the whole image and confidence 0. */
typedef struct facec_face {
    int32_t x, y, w, h;
    int32_t has_left_eye, left_eye_x, left_eye_y;
    int32_t has_right_eye, right_eye_x, right_eye_y;
    double confidence;
} facec_face;

typedef struct facec_model facec_model;
typedef struct facec_session facec_session;
typedef struct facec_faces facec_faces;

/* "facec 0.1.0"; static storage. */
const char *facec_version(void);
/* This thread's last failure, one line ("" if none). */
const char *facec_last_error(void);

/* Models: open validates the whole file (structure, checksums, every kernel's
 * shapes) and maps it read-only. */
facec_status facec_model_open(const char *path, facec_model **model);
void facec_model_close(facec_model *model);               /* NULL is allowed */
size_t facec_model_dim(const facec_model *model);          /* embedding length */
int facec_model_has_detector(const facec_model *model);   /* 1 or 0 */
/* The detector the model carries, as deepface names it: "opencv", "mtcnn",
 * or "" for none (API 3; valid while the model is open). */
const char *facec_model_detector(const facec_model *model);
const char *facec_model_name(const facec_model *model);   /* valid while the model is open */
/* The model's threshold for a metric (FACEC_ERROR_ARGUMENT if it has none). */
facec_status facec_model_threshold(const facec_model *model, facec_metric metric, double *threshold);

/* Sessions: one per thread; `threads` (1 to 1024) is how many threads one
 * image's network and face search may use (fewer run when the system cannot
 * create more, e.g. under a container's pids limit). A session keeps its
 * model alive; close both when done. */
facec_status facec_session_open(const facec_model *model, int threads, facec_session **session);
void facec_session_close(facec_session *session);          /* NULL is allowed */

/* Every face of a photo file (JPEG, PNG or WebP, chosen by content) with its
 * embedding, in deepface's face order. */
facec_status facec_embed_file(facec_session *session, const char *path, unsigned flags, facec_faces **faces);
/* The same for 8-bit interleaved pixels (3 bytes per pixel, rows `stride`
 * bytes apart, top row first). */
facec_status facec_embed_pixels(facec_session *session, const uint8_t *pixels, int width, int height, size_t stride,
                                facec_pixel_order order, unsigned flags, facec_faces **faces);
/* The same for an encoded photo in memory (JPEG, PNG or WebP bytes, chosen by
 * content, decoded as from a file): deepface's base64 and file-object inputs. */
facec_status facec_embed_memory(facec_session *session, const void *data, size_t size, unsigned flags, facec_faces **faces);
/* Faces only, without embeddings (facec_faces_embedding returns NULL). */
facec_status facec_detect_file(facec_session *session, const char *path, unsigned flags, facec_faces **faces);
facec_status facec_detect_pixels(facec_session *session, const uint8_t *pixels, int width, int height, size_t stride,
                                 facec_pixel_order order, unsigned flags, facec_faces **faces);
facec_status facec_detect_memory(facec_session *session, const void *data, size_t size, unsigned flags, facec_faces **faces);

size_t facec_faces_count(const facec_faces *faces);
/* NULL when i is out of range. Pointers stay valid until facec_faces_free. */
const facec_face *facec_faces_face(const facec_faces *faces, size_t i);
const float *facec_faces_embedding(const facec_faces *faces, size_t i);  /* facec_model_dim floats */
/* Face i's aligned crop as deepface's extract_faces gives it (before any
 * resizing for the network): RGB, 3 bytes per pixel, rows width * 3 bytes
 * apart, top row first; *width and *height are set. Only for results of
 * facec_detect_* called with FACEC_WITH_CROPS; NULL otherwise (the sizes
 * are then 0). Without detection the crop is the whole image. */
const uint8_t *facec_faces_crop(const facec_faces *faces, size_t i, int *width, int *height);
void facec_faces_free(facec_faces *faces);                 /* NULL is allowed */

/* deepface's distance between two embeddings (computed in double, rounded to
 * 6 decimals), and its verdict against the model's threshold (verified = 1
 * when distance <= threshold). An embedding holding a NaN or an infinity, or
 * (for FACEC_COSINE) all zeros, whose distance deepface computes as NaN, is
 * FACEC_ERROR_ARGUMENT. */
facec_status facec_distance(const float *a, const float *b, size_t dim, facec_metric metric, double *distance);
facec_status facec_verify(const facec_model *model, const float *a, const float *b, size_t dim, facec_metric metric,
                          double *distance, int *verified);

/* The distances of one embedding to `count` others (rows of `dim` floats,
 * `row_stride` floats apart: a gallery matrix), as facec_distance computes
 * each; a row whose distance is undefined (NaN, infinity, or all zeros for
 * FACEC_COSINE and FACEC_ANGULAR) gets 1 for those two metrics and an infinity
 * otherwise, as a gallery search ranks it. The query itself must be valid. */
facec_status facec_distances(const float *query, const float *rows, size_t count, size_t dim, size_t row_stride,
                             facec_metric metric, double *distances);

/* deepface's confidence (0 to 100) that a pair at `distance` is one person,
 * for this model and metric (deepface/config/confidence.py, as its verify and
 * find report it); `verified` is the pair's verdict (1 or 0); a distance at or
 * below 0 gives 100 or 0, a NaN or an infinity is FACEC_ERROR_ARGUMENT. For a model
 * deepface has no fit for (e.g. VGG-Face's fc8 descriptor) it is deepface's
 * neutral 51 or 49. *integral (may be NULL) is 1 where deepface returns the
 * value as a Python int (its clamps to 0, 49, 51 and 100). */
facec_status facec_confidence(const facec_model *model, double distance, facec_metric metric, int verified,
                              double *confidence, int *integral);

#ifdef __cplusplus
}
#endif

#endif /* FACEC_H */
