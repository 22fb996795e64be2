/* SPDX-License-Identifier: Apache-2.0 */
/* cut.c: a test-only network partition (cut.h). */
#include "node/wire/cut.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/base/log.h"

/* bare: addr without its "tcp://" scheme. */
static const char *
bare(const char *addr)
{
    return strncmp(addr, "tcp://", 6) == 0 ? addr + 6 : addr;
}

bool
wire_cut_init(struct wire_cut *c)
{
    memset(c, 0, sizeof *c);
    const char *p = getenv("NAOS_TESTING_PARTITION_FILE");
    if (p == NULL || p[0] == '\0' || strlen(p) >= sizeof c->path)
        return false;
    snprintf(c->path, sizeof c->path, "%s", p);
    c->size = -1;
    NAOS_WARN("wire", "NAOS_TESTING_PARTITION_FILE=%s (for tests only): "
              "nothing is sent to the addresses it lists", c->path);
    return true;
}

/* reload reads the file again if it changed since the last look. */
static void
reload(struct wire_cut *c)
{
    struct stat st;
    if (stat(c->path, &st) != 0) {
        c->n = 0;
        c->size = -1;
        return;
    }
    if (st.st_size == c->size && st.st_mtim.tv_sec == c->mtime.tv_sec &&
        st.st_mtim.tv_nsec == c->mtime.tv_nsec)
        return;
    c->size = st.st_size;
    c->mtime = st.st_mtim;
    c->n = 0;
    FILE *f = fopen(c->path, "re");
    if (f == NULL)
        return;
    char line[WIRE_CUT_ADDR];
    while (c->n < WIRE_CUT_MAX && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n \t")] = '\0';
        const char *a = bare(line);
        if (a[0] != '\0')
            memcpy(c->addrs[c->n++], a, strlen(a) + 1);
    }
    fclose(f);
}

bool
wire_cut_blocks(struct wire_cut *c, uint64_t iteration, const char *addr)
{
    if (c->path[0] == '\0')
        return false;
    if (c->checked != iteration + 1) {
        c->checked = iteration + 1;
        reload(c);
    }
    const char *a = bare(addr);
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->addrs[i], a) == 0) {
            c->dropped++;
            return true;
        }
    return false;
}
