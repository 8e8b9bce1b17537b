/*
 * hotssl version numbers.
 *
 * ABI rule: releases with the same HOTSSL_VERSION_MAJOR keep the ABI. A
 * program compiled against an older header of the same major version runs
 * against a newer library, shared or static, unchanged:
 *   - no public struct changes size or layout, no field changes meaning, no
 *     function changes signature or return convention, no constant changes
 *     value (error codes, HOTSSL_INFO_* items, flags), no function is
 *     removed (a superseded one stays, documented as deprecated);
 *   - a new minor version may add functions, error codes, HOTSSL_INFO_*
 *     items, and fields at the end of size-first structs (those whose first
 *     member is `size_t size`, see hotssl.h); nothing else grows.
 * tests/install/abi-0.1/ keeps the 0.1 public headers; the install test
 * builds a consumer against them and runs it against the current library
 * (tests/install/test_abi.sh).
 */
#ifndef HOTSSL_VERSION_H
#define HOTSSL_VERSION_H

#define HOTSSL_VERSION_MAJOR 0
#define HOTSSL_VERSION_MINOR 1
#define HOTSSL_VERSION_PATCH 0
#define HOTSSL_VERSION_STRING "0.1.0"

/* 0xMMmmpp: comparable with <, > */
#define HOTSSL_VERSION_HEX \
  ((HOTSSL_VERSION_MAJOR << 16) | (HOTSSL_VERSION_MINOR << 8) | HOTSSL_VERSION_PATCH)

#endif /* HOTSSL_VERSION_H */
