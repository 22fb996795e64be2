/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_fuzz.c: libFuzzer target for cmd_unpack, the decoder of command log
 * entries (built by cluster-tests/fuzz with -DNAOS_FUZZ=ON).
 *
 * Checks beyond memory safety:
 *   - cmd_unpack either refuses (NAOS_EPROTO / NAOS_EINVAL with a message,
 *     *out untouched) or gives a command of a known version and type;
 *   - cmd_validate answers OK, EINVAL with a message, or ENOMEM;
 *   - what cmd_validate accepts packs (cmd_pack) and unpacks again to the
 *     same bytes (an entry applied on one node means the same on another);
 *   - nothing leaks through naos_alloc. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/cmd/cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Naos__V1__Command *c = NULL;
    char err[512] = "";
    int rc = cmd_unpack(data, size, &c, err, sizeof err);
    if (rc != NAOS_OK) {
        NAOS_ASSERT(rc == NAOS_EPROTO || rc == NAOS_EINVAL ||
                    rc == NAOS_ENOMEM);
        NAOS_ASSERT(c == NULL);
        NAOS_ASSERT(rc == NAOS_ENOMEM || err[0] != '\0');
        return 0;
    }
    NAOS_ASSERT(c->version <= COMMAND_VERSION);
    NAOS_ASSERT(c->cmd_case != NAOS__V1__COMMAND__CMD__NOT_SET);
    (void)cmd_type_name(c);
    (void)cmd_target(c);
    err[0] = '\0';
    rc = cmd_validate(c, err, sizeof err);
    NAOS_ASSERT(rc == NAOS_OK || rc == NAOS_EINVAL || rc == NAOS_ENOMEM);
    NAOS_ASSERT(rc != NAOS_EINVAL || err[0] != '\0');
    if (rc == NAOS_OK && c->version == COMMAND_VERSION) {
        uint8_t *b1 = NULL, *b2 = NULL;
        size_t n1 = 0, n2 = 0;
        NAOS_ASSERT(cmd_pack(c, &b1, &n1, err, sizeof err) == NAOS_OK);
        Naos__V1__Command *again = NULL;
        NAOS_ASSERT(cmd_unpack(b1, n1, &again, err, sizeof err) == NAOS_OK);
        NAOS_ASSERT(cmd_validate(again, err, sizeof err) == NAOS_OK);
        NAOS_ASSERT(cmd_pack(again, &b2, &n2, err, sizeof err) == NAOS_OK);
        NAOS_ASSERT(n1 == n2 && memcmp(b1, b2, n1) == 0);
        cmd_free(again);
        naos_free(b1);
        naos_free(b2);
    }
    cmd_free(c);
    NAOS_ASSERT(naos_alloc_live() == 0);
    return 0;
}
