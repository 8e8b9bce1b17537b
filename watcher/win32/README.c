/*
 * Placeholder: the Windows backend of the watcher (not built yet; comes with
 * the Windows issue). This file is documentation only and is not compiled.
 *
 * How ReadDirectoryChangesW fits hotssl__watch_ops (watcher/watcher.h):
 *
 *  open    CreateIoCompletionPort(INVALID_HANDLE_VALUE, ...) gives one port
 *          for all directories; the "descriptor" the common layer waits on
 *          becomes a HANDLE (an event signalled by a small completion
 *          thread, or the port itself via GetQueuedCompletionStatusEx with
 *          a timeout inside hotssl__watch_wait of paths_win32.c).
 *  sync    for each distinct set->iv[i].dir: CreateFileW(dir,
 *          FILE_LIST_DIRECTORY, FILE_SHARE_READ | FILE_SHARE_WRITE |
 *          FILE_SHARE_DELETE, NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS |
 *          FILE_FLAG_OVERLAPPED), associate it with the port, and issue an
 *          overlapped ReadDirectoryChangesW(h, buf, 64 KiB, FALSE,
 *          FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME |
 *          FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_SIZE |
 *          FILE_NOTIFY_CHANGE_SECURITY). Directories no longer in the set:
 *          CancelIoEx + CloseHandle. A directory that cannot be opened makes
 *          sync return 1 (the common layer polls meanwhile), exactly like a
 *          failed inotify_add_watch. FILE_SHARE_DELETE matters: without it
 *          our handle would block the deployment tool from removing or
 *          renaming the directory.
 *  read    drain completions without blocking; walk FILE_NOTIFY_INFORMATION
 *          records, convert FileName (UTF-16, relative to the directory) to
 *          UTF-8 and call hotssl__watch_match(set, dir, name) -> CHANGED.
 *          A completion with 0 bytes means the buffer overflowed: CHANGED |
 *          RESYNC | LOST (the Windows counterpart of IN_Q_OVERFLOW).
 *          ERROR_ACCESS_DENIED / ERROR_NETNAME_DELETED on a directory that
 *          was removed: CHANGED | RESYNC (like IN_IGNORED). Re-issue the
 *          overlapped read after each completion.
 *  fd      -1 (the wait goes through paths_win32.c instead).
 *  timeout -1.
 *  close   cancel and close every directory handle, close the port. Windows
 *          has no fork, so hotssl_watcher_after_fork_child is never needed.
 *
 * paths_win32.c would provide hotssl__watch_resolve (GetFinalPathNameByHandleW
 * and FSCTL_GET_REPARSE_POINT to walk symbolic links and junctions) and
 * hotssl__watch_wait (WaitForMultipleObjects on the manager's wake-up event
 * and the stop event). The polling backend (watcher/poll/) already runs on
 * Windows: it reads files through APR.
 */
