#ifndef FACEC_CHDF5_SHIM_H
#define FACEC_CHDF5_SHIM_H
#include <hdf5.h>
#include <string.h>

// HDF5's type and property constants are macros that expand to
// (H5open(), global) which Swift cannot import; these wrappers make them
// callable (and inlinable) from Swift.
static inline hid_t facec_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t facec_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t facec_H5T_NATIVE_UINT32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t facec_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t facec_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t facec_H5T_STD_REF_OBJ(void) { return H5T_STD_REF_OBJ; }
static inline hid_t facec_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t facec_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t facec_H5S_ALL(void) { return H5S_ALL; }
static inline size_t facec_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline unsigned facec_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }

// libhdf5 1.10 (Debian 12) and 1.12+ (Debian 13: 1.14) spell the link and
// object info calls as versioned macros (H5Lget_info -> H5Lget_info2,
// H5O_info_t -> H5O_info2_t) that Swift cannot import: C resolves them here.
static inline int facec_H5_link_type(hid_t loc, const char *name) {
    H5L_info_t info;
    return H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0 ? -1 : (int)info.type;
}
static inline long long facec_H5_num_attrs(hid_t id) {
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    return H5Oget_info3(id, &info, H5O_INFO_NUM_ATTRS) < 0 ? -1 : (long long)info.num_attrs;
#else
    H5O_info_t info;   /* 1.10: H5Oget_info is the 2-argument version 1 */
    return H5Oget_info2(id, &info, H5O_INFO_NUM_ATTRS) < 0 ? -1 : (long long)info.num_attrs;
#endif
}

// A data transfer property list whose type-conversion buffer is `bytes`
// (HDF5's default, 1 MB, is allocated and zeroed on every converting read,
// which dominates reading thousands of small datasets). Close with H5Pclose.
static inline hid_t facec_H5_transfer_list(size_t bytes) {
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_buffer(dxpl, bytes, NULL, NULL) < 0) { H5Pclose(dxpl); return -1; }
    return dxpl;
}

// File access properties for reading a file once, front to back: each
// object's metadata is evicted from the cache when the object is closed
// (MAT v7.3 files hold thousands of small objects, each read once).
static inline hid_t facec_H5_read_once_access(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_evict_on_close(fapl, 1) < 0) { H5Pclose(fapl); return -1; }
    return fapl;
}

// Silence HDF5's automatic error stack printing: facec reports its own
// one-line errors.
static inline void facec_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// The most specific message on HDF5's error stack (where the fault was
// detected, e.g. "truncated file: eof = ..."), copied into buf; the stack
// is cleared. Empty when the stack is empty.
static herr_t facec_H5_first_error(unsigned n, const H5E_error2_t *e, void *buf) {
    if (n == 0 && e->desc) { strncpy((char *)buf, e->desc, 255); ((char *)buf)[255] = 0; }
    return 0;
}
static inline void facec_H5_last_error(char buf[256]) {
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, facec_H5_first_error, buf);
    H5Eclear2(H5E_DEFAULT);
}

#endif
