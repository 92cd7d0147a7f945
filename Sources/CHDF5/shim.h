#ifndef FACEC_CHDF5_SHIM_H
#define FACEC_CHDF5_SHIM_H
#include <hdf5.h>

// HDF5's type and property constants are macros that expand to
// (H5open(), global) which Swift cannot import; these wrappers make them
// callable (and inlinable) from Swift.
static inline hid_t facec_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t facec_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t facec_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t facec_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t facec_H5S_ALL(void) { return H5S_ALL; }
static inline size_t facec_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline unsigned facec_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }

// Silence HDF5's automatic error stack printing: facec reports its own
// one-line errors.
static inline void facec_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
