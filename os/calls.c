/*
 * The OS call table (os/os.h): every file, directory and process call the
 * loader and the passphrase command make goes through hotssl__os(), like
 * SQLite's VFS. In production it is the real functions, always: APR's, and on
 * Windows the passphrase command's CreateProcessW and job assignment
 * (os/win32/process.c), and the pages for secrets (os/secmem.c). A test (tests/faults, tests/windows) installs its
 * own table with hotssl__os_set_calls() to fail a call; that setter is
 * internal, declared only in os/os.h, and is the one piece of process-wide
 * mutable state in the library (an atomic pointer to a constant table; NULL
 * restores the real one).
 */
#include <stdatomic.h>

#include <apr_file_io.h>
#include <apr_thread_proc.h>

#include "os.h"

static const hotssl__os_calls real_calls = {
    apr_file_open, apr_file_info_get, apr_file_read, apr_dir_open,
#ifndef _WIN32
    apr_procattr_io_set, apr_proc_create,
#else
    apr_file_pipe_create_ex, hotssl__win_process_create, hotssl__win_job_assign,
#endif
    hotssl__pages_map, hotssl__pages_unmap,
};

static _Atomic(const hotssl__os_calls *) current_calls;

const hotssl__os_calls *hotssl__os(void) {
  const hotssl__os_calls *c = atomic_load_explicit(&current_calls, memory_order_acquire);
  return c != NULL ? c : &real_calls;
}

const hotssl__os_calls *hotssl__os_real(void) { return &real_calls; }

void hotssl__os_set_calls(const hotssl__os_calls *calls) {
  atomic_store_explicit(&current_calls, calls, memory_order_release);
}
