/*
 * utf8: well-formedness of UTF-8 (RFC 3629; Unicode table 3-7): no
 * overlong forms, no encoded UTF-16 surrogates, nothing above U+10FFFF.
 * Shared by the WebSocket text checks and the JSON reader and writer.
 */
#ifndef ESMELOAD_UTF8_H
#define ESMELOAD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the well-formed sequence at p[0..n), or 0 if it is
 * ill-formed or cut short. n must be at least 1. */
size_t utf8_seq(const uint8_t *p, size_t n);

/* 1 if p[0..n) is well-formed UTF-8 (ASCII is skipped 8 bytes at a time). */
int utf8_valid(const uint8_t *p, size_t n);

#endif
