/*
 * The process-wide HDF5 lock (hdf5_lock.h). A static mutex: the library
 * itself is process-wide state, so its guard is too.
 */
#include <pthread.h>

#include "io/hdf5_lock.h"

static pthread_mutex_t hdf5_mutex = PTHREAD_MUTEX_INITIALIZER;

void hdf5_lock(void)
{
    pthread_mutex_lock(&hdf5_mutex);
}

void hdf5_unlock(void)
{
    pthread_mutex_unlock(&hdf5_mutex);
}
