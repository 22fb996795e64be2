/* SPDX-License-Identifier: Apache-2.0 */
/* spec_yaml_fuzz.c: libFuzzer target for spec_yaml_parse and
 * spec_yaml_parse_agent. Not built by
 * CMake yet; by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I/work/main node/spec/spec_yaml_fuzz.c node/spec/spec_yaml.c \
 *     node/spec/spec.c node/base/alloc.c node/base/time.c \
 *     $(pkg-config --cflags --libs yaml-0.1) -o spec_yaml_fuzz
 *   ./spec_yaml_fuzz -max_total_time=30 node/spec/testdata
 * Checks beyond memory safety: a failed parse leaves *out zeroed and
 * writes a message; a success passes spec_validate, survives a deep copy,
 * and nothing leaks through naos_alloc. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/spec/spec_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct spec_node zero;
    char err[512];
    struct spec_node out;
    long base = naos_alloc_live();

    err[0] = '\0';
    int rv = spec_yaml_parse("fuzz.yaml", (const char *)data, size, &out, err,
                             sizeof err);
    if (rv == NAOS_OK) {
        NAOS_ASSERT(spec_validate(&out, err, sizeof err) == NAOS_OK);
        struct spec_node copy;
        NAOS_ASSERT(spec_node_copy(&copy, &out) == NAOS_OK);
        spec_node_fini(&copy);
    } else {
        NAOS_ASSERT(rv == NAOS_EINVAL || rv == NAOS_ENOMEM);
        NAOS_ASSERT(memcmp(&out, &zero, sizeof out) == 0);
        NAOS_ASSERT(strncmp(err, "fuzz.yaml:", 10) == 0);
    }
    spec_node_fini(&out);

    /* The same bytes as a project file (naos.yaml), asking for agent a. */
    rv = spec_yaml_parse_agent("fuzz.yaml", (const char *)data, size, "a",
                               &out, err, sizeof err);
    if (rv == NAOS_OK)
        NAOS_ASSERT(spec_validate(&out, err, sizeof err) == NAOS_OK);
    else
        NAOS_ASSERT(memcmp(&out, &zero, sizeof out) == 0 &&
                    (rv == NAOS_EINVAL || rv == NAOS_ENOMEM ||
                     rv == NAOS_ENOTFOUND));
    spec_node_fini(&out);
    NAOS_ASSERT(naos_alloc_live() == base);
    return 0;
}
