/* SPDX-License-Identifier: Apache-2.0 */
/* utf8.h: UTF-8 validation for text that comes from workers (STATUS=,
 * exit details) before it is shown or put into JSON. */
#ifndef NAOS_BASE_UTF8_H
#define NAOS_BASE_UTF8_H

#include <stddef.h>

/* naos_utf8_seq_len returns the length (1..4) of the valid UTF-8 sequence
 * at s (n > 0 bytes available, borrowed), or 0 when it is invalid:
 * overlong, a surrogate, above U+10FFFF, or truncated. ASCII counts as a
 * sequence of 1. */
size_t naos_utf8_seq_len(const unsigned char *s, size_t n);

/* naos_utf8_codepoint decodes the valid sequence of len bytes at s (as
 * returned by naos_utf8_seq_len). */
unsigned naos_utf8_codepoint(const unsigned char *s, size_t len);

#endif
