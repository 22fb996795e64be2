/* SPDX-License-Identifier: Apache-2.0 */
/* keyfile_fuzz.c: libFuzzer target for auth_keyfile_parse (the key file
 * decoder). Checks: a refusal leaves the key empty and writes a message
 * that names the file; an accepted file has exactly one spelling, so
 * formatting the key gives back the input byte for byte, and its id is the
 * derived one. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/auth/keys.h"
#include "node/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_key k = AUTH_KEY_ZERO;
    char err[256];
    err[0] = '\0';
    int rv = auth_keyfile_parse("fuzz.key", (const char *)data, size, &k, err,
                                sizeof err);
    if (rv == NAOS_OK) {
        char line[AUTH_KEYFILE_LINE_MAX + 1];
        NAOS_ASSERT(k.bytes != NULL);
        NAOS_ASSERT(k.id == auth_key_id(k.bytes));
        NAOS_ASSERT(auth_keyfile_format(&k, line, sizeof line) == NAOS_OK);
        NAOS_ASSERT(strlen(line) == size && memcmp(line, data, size) == 0);
        auth_key_fini(&k);
    } else {
        NAOS_ASSERT(rv == NAOS_EINVAL);
        NAOS_ASSERT(k.bytes == NULL);
        NAOS_ASSERT(strncmp(err, "fuzz.key: ", 10) == 0);
    }
    return 0;
}
