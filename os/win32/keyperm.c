/*
 * The key-file protection check on Windows, the counterpart of PostgreSQL's
 * POSIX rule (os/posix/keyperm.c) in Windows terms, applied to the security
 * descriptor of the handle that is then read (no check-then-open race):
 *   - owner: the server's user, or SYSTEM / Administrators (the "root" of
 *     the POSIX rule);
 *   - DACL: present (no DACL means full access for everyone) and without an
 *     allow entry that applies to the file for a broad group: Everyone,
 *     Authenticated Users, Users, Guests, Anonymous, Interactive.
 * Failures are reported as on POSIX: HOTSSL_EKEYPERM and a reason worded to
 * follow `private key file "%s" `.
 */
#include <winsock2.h> /* before windows.h; apr_portable.h needs both */
#include <ws2tcpip.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_portable.h>

#include "hotssl/hotssl.h"
#include "../os.h"

static const struct {
  WELL_KNOWN_SID_TYPE type;
  const char *name;
} broad[] = {
    {WinWorldSid, "Everyone"},
    {WinAuthenticatedUserSid, "Authenticated Users"},
    {WinBuiltinUsersSid, "Users"},
    {WinBuiltinGuestsSid, "Guests"},
    {WinAnonymousSid, "Anonymous"},
    {WinInteractiveSid, "Interactive"},
};

static void sid_text(PSID sid, char *buf, size_t len) {
  LPSTR s = NULL;
  if (sid != NULL && ConvertSidToStringSidA(sid, &s)) {
    hotssl__fmt(buf, len, "%s", s);
    LocalFree(s);
  } else {
    hotssl__fmt(buf, len, "unknown");
  }
}

/* The process user's SID (malloc'ed), or NULL. */
static PSID process_user(void) {
  HANDLE tok;
  DWORD need = 0;
  TOKEN_USER *tu;
  PSID copy = NULL;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
    return NULL;
  GetTokenInformation(tok, TokenUser, NULL, 0, &need);
  if (need > 0 && (tu = malloc(need)) != NULL) {
    if (GetTokenInformation(tok, TokenUser, tu, need, &need)) {
      DWORD n = GetLengthSid(tu->User.Sid);
      if ((copy = malloc(n)) != NULL && !CopySid(n, copy, tu->User.Sid)) {
        free(copy);
        copy = NULL;
      }
    }
    free(tu);
  }
  CloseHandle(tok);
  return copy;
}

int hotssl__keyfile_check_sd(void *owner_sid, void *dacl_acl, char *errbuf, size_t errlen) {
  PSID owner = owner_sid, me;
  PACL dacl = dacl_acl;
  ACL_SIZE_INFORMATION info;
  char a[200], b[200];
  DWORD i;
  int r = HOTSSL_EKEYPERM;

  if ((me = process_user()) == NULL) {
    hotssl__fmt(errbuf, errlen, "could not check its owner (no process user)");
    return HOTSSL_EKEYPERM;
  }
  if (owner == NULL || (!EqualSid(owner, me) && !IsWellKnownSid(owner, WinLocalSystemSid) &&
                        !IsWellKnownSid(owner, WinBuiltinAdministratorsSid))) {
    sid_text(owner, a, sizeof a);
    sid_text(me, b, sizeof b);
    hotssl__fmt(errbuf, errlen,
                "must be owned by the server user, SYSTEM or Administrators (owner %s, server user %s)",
                a, b);
    goto out;
  }
  if (dacl == NULL) {
    hotssl__fmt(errbuf, errlen, "has no DACL: everyone has full access (file must give no access to "
                                "Everyone, Authenticated Users, Users or Guests)");
    goto out;
  }
  if (!GetAclInformation(dacl, &info, sizeof info, AclSizeInformation)) {
    hotssl__fmt(errbuf, errlen, "could not read its DACL");
    goto out;
  }
  for (i = 0; i < info.AceCount; i++) {
    ACE_HEADER *ace;
    ACCESS_ALLOWED_ACE *allow;
    size_t k;
    if (!GetAce(dacl, i, (void **)&ace))
      continue;
    if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE || (ace->AceFlags & INHERIT_ONLY_ACE))
      continue; /* deny entries only take access away */
    allow = (ACCESS_ALLOWED_ACE *)ace;
    if (allow->Mask == 0)
      continue;
    for (k = 0; k < sizeof broad / sizeof broad[0]; k++)
      if (IsWellKnownSid((PSID)&allow->SidStart, broad[k].type)) {
        hotssl__fmt(errbuf, errlen,
                    "gives access to %s (access mask 0x%lx; file must give no access to Everyone, "
                    "Authenticated Users, Users or Guests, only to its owner, SYSTEM and Administrators)",
                    broad[k].name, (unsigned long)allow->Mask);
        goto out;
      }
  }
  r = 0;
out:
  free(me);
  return r;
}

int hotssl__keyfile_check(apr_file_t *f, const apr_finfo_t *fi, char *errbuf, size_t errlen) {
  apr_os_file_t h;
  PSECURITY_DESCRIPTOR sd = NULL;
  PSID owner = NULL;
  PACL dacl = NULL;
  DWORD err;
  int r;

  (void)fi;
  if (apr_os_file_get(&h, f) != APR_SUCCESS) {
    hotssl__fmt(errbuf, errlen, "could not check its protection (no handle)");
    return HOTSSL_EKEYPERM;
  }
  err = GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                        &owner, NULL, &dacl, NULL, &sd);
  if (err != ERROR_SUCCESS) {
    hotssl__fmt(errbuf, errlen, "could not read its owner and DACL (Windows error %lu)",
                (unsigned long)err);
    return HOTSSL_EKEYPERM;
  }
  r = hotssl__keyfile_check_sd(owner, dacl, errbuf, errlen);
  LocalFree(sd);
  return r;
}
