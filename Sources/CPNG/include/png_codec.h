#ifndef FACEC_PNG_CODEC_H
#define FACEC_PNG_CODEC_H
#include <stddef.h>
#include <stdint.h>

/// Decodes a PNG in memory to 8-bit RGB the way OpenCV's cv2.imread(IMREAD_COLOR)
/// asks libpng to: 16-bit samples stripped to their high byte, alpha dropped
/// (not composited), palettes expanded (transparency ignored), 1/2/4-bit grey
/// expanded, grey replicated to RGB, no gamma correction, interlacing handled.
/// Returns 0 and a malloc'ed width*height*3 buffer in *rgb (free with free()),
/// or -1 with a one-line reason in err. Images of more than max_pixels pixels
/// are refused from the header, before any pixel memory is allocated.
/// The payload of an eXIf chunk (a TIFF header and IFDs; OpenCV applies its
/// orientation), if there is one, is returned malloc'ed in *exif / *exif_size.
int facec_png_decode(const uint8_t *data, size_t size, size_t max_pixels,
                     int *width, int *height, uint8_t **rgb, uint8_t **exif, size_t *exif_size,
                     char *err, size_t err_size);

/// Encodes 8-bit RGB as PNG into a malloc'ed buffer (free with free()).
/// Returns 0, or -1 with a reason in err.
int facec_png_encode(const uint8_t *rgb, int width, int height, uint8_t **png, size_t *png_size,
                     char *err, size_t err_size);
#endif
