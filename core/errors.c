/*
 * Error codes, trigger and log-level names: static tables, no state.
 */
#include "internal.h"

const char *hotssl_strerror(int err) {
  switch (err) {
#define HOTSSL__ERR_TEXT(name, val, text) \
  case HOTSSL_##name:                     \
    return text;
    HOTSSL_ERRNO_MAP(HOTSSL__ERR_TEXT)
#undef HOTSSL__ERR_TEXT
  case HOTSSL_OK:
    return "success";
  case HOTSSL_UNCHANGED:
    return "configuration unchanged";
  default:
    return "unknown error";
  }
}

const char *hotssl_err_name(int err) {
  switch (err) {
#define HOTSSL__ERR_NAME(name, val, text) \
  case HOTSSL_##name:                     \
    return "HOTSSL_" #name;
    HOTSSL_ERRNO_MAP(HOTSSL__ERR_NAME)
#undef HOTSSL__ERR_NAME
  case HOTSSL_OK:
    return "HOTSSL_OK";
  case HOTSSL_UNCHANGED:
    return "HOTSSL_UNCHANGED";
  default:
    return "HOTSSL_UNKNOWN";
  }
}

const char *hotssl_trigger_name(hotssl_trigger trigger) {
  switch (trigger) {
  case HOTSSL_TRIGGER_START:
    return "start";
  case HOTSSL_TRIGGER_API:
    return "API call";
  case HOTSSL_TRIGGER_SIGNAL:
    return "signal";
  case HOTSSL_TRIGGER_FILE:
    return "file change";
  }
  return "unknown";
}

const char *hotssl_log_level_name(hotssl_log_level level) {
  switch (level) {
  case HOTSSL_LOG_DEBUG:
    return "DEBUG";
  case HOTSSL_LOG_INFO:
    return "INFO";
  case HOTSSL_LOG_WARNING:
    return "WARNING";
  case HOTSSL_LOG_ERROR:
    return "ERROR";
  }
  return "LOG";
}

const char *hotssl_version_string(void) { return HOTSSL_VERSION_STRING; }
