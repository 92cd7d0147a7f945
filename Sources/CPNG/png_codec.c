// PNG in C because libpng reports errors by longjmp, which Swift code must
// never be unwound through.
#include "png_codec.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char *err;
    size_t err_size;
} reader_t;

static void on_error(png_structp png, png_const_charp message) {
    reader_t *r = (reader_t *)png_get_error_ptr(png);
    if (r && r->err && r->err_size) snprintf(r->err, r->err_size, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

static void on_read(png_structp png, png_bytep out, png_size_t n) {
    reader_t *r = (reader_t *)png_get_io_ptr(png);
    if (r->size - r->pos < n) png_error(png, "truncated PNG data");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

int facec_png_decode(const uint8_t *data, size_t size, size_t max_pixels,
                     int *width, int *height, uint8_t **rgb, uint8_t **exif, size_t *exif_size,
                     char *err, size_t err_size) {
    reader_t r = {data, size, 0, err, err_size};
    *exif = NULL;
    *exif_size = 0;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    *rgb = NULL;
    if (err_size) err[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
    if (!png) { snprintf(err, err_size, "cannot start the PNG decoder"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); snprintf(err, err_size, "cannot start the PNG decoder"); return -1; }
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        if (err_size && !err[0]) snprintf(err, err_size, "damaged PNG data");
        return -1;
    }
    png_set_read_fn(png, &r, on_read);
    // Bounds on what a hostile header may ask for (libpng checks these too).
    png_set_user_limits(png, 1u << 20, 1u << 20);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
    if (w == 0 || h == 0 || (size_t)w * (size_t)h > max_pixels) {
        snprintf(err, err_size, "image of %ux%u pixels is larger than the limit of %zu pixels", (unsigned)w, (unsigned)h, max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    if (depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((color & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if ((color & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) {
        snprintf(err, err_size, "unexpected PNG row layout");
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    pixels = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, info);
    free(rows);
#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 n = 0;
    png_bytep e = NULL;
    if (png_get_valid(png, info, PNG_INFO_eXIf) && png_get_eXIf_1(png, info, &n, &e) && e && n > 0) {
        *exif = malloc(n);
        if (*exif) { memcpy(*exif, e, n); *exif_size = n; }
    }
#endif
    png_destroy_read_struct(&png, &info, NULL);
    *width = (int)w;
    *height = (int)h;
    *rgb = pixels;
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t size, capacity;
} writer_t;

static void on_write(png_structp png, png_bytep in, png_size_t n) {
    writer_t *w = (writer_t *)png_get_io_ptr(png);
    if (w->capacity - w->size < n) {
        size_t cap = w->capacity ? w->capacity * 2 : 65536;
        while (cap - w->size < n) cap *= 2;
        uint8_t *p = realloc(w->data, cap);
        if (!p) png_error(png, "out of memory");
        w->data = p;
        w->capacity = cap;
    }
    memcpy(w->data + w->size, in, n);
    w->size += n;
}

static void on_flush(png_structp png) { (void)png; }

int facec_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_size,
                     char *err, size_t err_size) {
    writer_t w = {NULL, 0, 0};
    reader_t e = {NULL, 0, 0, err, err_size};
    *out = NULL;
    *out_size = 0;
    if (err_size) err[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, on_error, on_warning);
    if (!png) { snprintf(err, err_size, "cannot start the PNG encoder"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(w.data);
        if (err_size && !err[0]) snprintf(err, err_size, "PNG encoding failed");
        return -1;
    }
    png_set_write_fn(png, &w, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = w.data;
    *out_size = w.size;
    return 0;
}
