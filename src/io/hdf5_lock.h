/*
 * One lock for every HDF5 call the library makes, reading or writing.
 * Debian's libhdf5 (serial) is built without its thread-safety option:
 * two threads inside the library at once corrupt its global state. Every
 * sequence of HDF5 calls runs between hdf5_lock() and hdf5_unlock(); the
 * lock is not recursive, so it is never held across a call that may take
 * it again (a source's read, which may be an HDF5 source).
 */
#ifndef NLSQ_IO_HDF5_LOCK_H
#define NLSQ_IO_HDF5_LOCK_H

void hdf5_lock(void);
void hdf5_unlock(void);

#endif
