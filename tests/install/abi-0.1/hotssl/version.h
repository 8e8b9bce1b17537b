/*
 * hotssl version numbers.
 *
 * Compatibility rule: releases with the same HOTSSL_VERSION_MAJOR keep the
 * ABI (no public struct changes size, no function changes signature). A new
 * minor version may add functions and error codes.
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
