/* SPDX-License-Identifier: Apache-2.0 */
/* cut_test.c: the test-only partition file (cut.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "node/base/testing.h"
#include "node/wire/cut.h"

static void
put(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    NT_TRUE(f != NULL);
    fputs(text, f);
    fclose(f);
    NT_EQ_INT(rename(tmp, path), 0);
}

/* Off without the variable; with it, the file's addresses (with or
 * without tcp://) are cut, read again once per iteration when it
 * changed; no file or an empty one cuts nothing. */
static void
test_cut_file(void)
{
    struct wire_cut c;
    unsetenv("NAOS_TESTING_PARTITION_FILE");
    NT_FALSE(wire_cut_init(&c));
    NT_FALSE(wire_cut_blocks(&c, 1, "tcp://127.0.0.1:7000"));

    char dir[] = "/tmp/naos-cut-XXXXXX";
    NT_TRUE(mkdtemp(dir) != NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/cut", dir);
    setenv("NAOS_TESTING_PARTITION_FILE", path, 1);
    NT_TRUE(wire_cut_init(&c));
    NT_FALSE(wire_cut_blocks(&c, 1, "tcp://127.0.0.1:7000")); /* no file */
    put(path, "tcp://127.0.0.1:7000\n127.0.0.1:7001\n\n");
    NT_FALSE(wire_cut_blocks(&c, 1, "tcp://127.0.0.1:7000")); /* same
                                                               iteration */
    NT_TRUE(wire_cut_blocks(&c, 2, "tcp://127.0.0.1:7000"));
    NT_TRUE(wire_cut_blocks(&c, 2, "127.0.0.1:7000"));
    NT_TRUE(wire_cut_blocks(&c, 2, "tcp://127.0.0.1:7001"));
    NT_FALSE(wire_cut_blocks(&c, 2, "tcp://127.0.0.1:7002"));
    NT_EQ_INT(c.dropped, 3);
    put(path, ""); /* healed */
    NT_FALSE(wire_cut_blocks(&c, 3, "tcp://127.0.0.1:7000"));
    put(path, "127.0.0.1:7002\n");
    unlink(path);
    NT_FALSE(wire_cut_blocks(&c, 4, "tcp://127.0.0.1:7002"));
    rmdir(dir);
    unsetenv("NAOS_TESTING_PARTITION_FILE");
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_cut_file),
        {0},
    };
    return nt_run(cases);
}
