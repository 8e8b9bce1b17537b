/*
 * File identity for the loader's memos, Windows:
 * GetFileInformationByHandleEx(FileIdInfo) gives the volume serial number
 * and the 128-bit file id (dev, and the id's two halves XORed as ino),
 * FileBasicInfo gives LastWriteTime and ChangeTime (100 ns units since
 * 1601), FileStandardInfo the size; GetSystemTimePreciseAsFileTime the wall
 * clock on the same scale.
 */
#include <string.h>

#include <winsock2.h> /* before windows.h; apr_portable.h needs both */
#include <ws2tcpip.h>
#include <windows.h>

#include <apr_portable.h>

#include "hotssl/hotssl.h"
#include "../os.h"

static int64_t ft_ns(LARGE_INTEGER t) { return (t.QuadPart - 116444736000000000LL) * 100; }

int hotssl__file_id_get(struct apr_file_t *f, hotssl__file_id *id) {
  apr_os_file_t h;
  FILE_ID_INFO fid;
  FILE_BASIC_INFO basic;
  FILE_STANDARD_INFO std;
  if (apr_os_file_get(&h, f) != APR_SUCCESS ||
      !GetFileInformationByHandleEx(h, FileIdInfo, &fid, sizeof fid) ||
      !GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic) ||
      !GetFileInformationByHandleEx(h, FileStandardInfo, &std, sizeof std))
    return HOTSSL_EFILE;
  id->dev = fid.VolumeSerialNumber;
  {
    uint64_t lo, hi; /* a 128-bit id (ReFS) folded into 64 bits */
    memcpy(&lo, fid.FileId.Identifier, 8);
    memcpy(&hi, fid.FileId.Identifier + 8, 8);
    id->ino = lo ^ hi;
  }
  id->size = (uint64_t)std.EndOfFile.QuadPart;
  id->mtime_ns = ft_ns(basic.LastWriteTime);
  id->ctime_ns = ft_ns(basic.ChangeTime);
  return 0;
}

int64_t hotssl__wall_ns(void) {
  FILETIME ft;
  LARGE_INTEGER t;
  GetSystemTimePreciseAsFileTime(&ft);
  t.LowPart = ft.dwLowDateTime;
  t.HighPart = (LONG)ft.dwHighDateTime;
  return ft_ns(t);
}
