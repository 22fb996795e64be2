/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_testutil.h: fixtures for the command path's tests (tests only). */
#ifndef NAOS_NODE_CMD_TESTUTIL_H
#define NAOS_NODE_CMD_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/testing.h"
#include "node/cmd/cmd.h"
#include "node/cmd/cmdraft.h"
#include "store/store_testutil.h"
#include "node/spec/spec.h"
#include "proto/spec_pb.h"

static inline char *
ct_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = naos_alloc(len);
    NT_TRUE(d != NULL);
    memcpy(d, s, len);
    return d;
}

/* ct_spec: the tree `naos deploy NAME -- CMD...` makes: supervisor NAME
 * with one worker NAME running argv (NULL-terminated). Caller frees with
 * spec_node_fini. */
static inline void
ct_spec(struct spec_node *root, const char *name, const char *const *argv)
{
    spec_node_init_supervisor(root);
    root->id = ct_strdup(name);
    root->children = naos_alloc(sizeof *root->children);
    NT_TRUE(root->children != NULL);
    root->nchildren = 1;
    struct spec_node *w = &root->children[0];
    spec_node_init(w);
    w->id = ct_strdup(name);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    w->argv = naos_alloc((argc + 1) * sizeof *w->argv);
    NT_TRUE(w->argv != NULL);
    for (size_t i = 0; i < argc; i++)
        w->argv[i] = ct_strdup(argv[i]);
    w->argc = argc;
}

/* ct_spec_pb: ct_spec as the NodeSpec a DeployCommand carries (free with
 * spec_pb_free). */
static inline Naos__V1__NodeSpec *
ct_spec_pb(const char *name)
{
    static const char *const argv[] = {"sleep", "1000", NULL};
    struct spec_node s;
    ct_spec(&s, name, argv);
    char err[256] = "";
    NT_EQ_INT(spec_validate(&s, err, sizeof err), 0);
    Naos__V1__NodeSpec *m = NULL;
    NT_EQ_INT(spec_pb_from_spec(&s, &m), 0);
    spec_node_fini(&s);
    return m;
}

/* struct ct_log: the replicated log as the node drives it, one voter:
 * opened on a store, it stands at once (a no-op entry at each open) and
 * commits each proposal before propose returns. */
struct ct_log {
    struct store *store;
    struct cmdraft *r;
};

static inline void
ct_log_open(struct ct_log *l, struct store *s)
{
    struct cmdraft_config cfg = {.node_id = 77, .cluster_id = 5};
    char err[256] = "";
    l->store = s;
    int rc = cmdraft_open(&l->r, s, &cfg, 1000, err, sizeof err);
    if (rc != NAOS_OK)
        NT_FAIL("cmdraft_open: %s", err);
}

static inline void
ct_log_close(struct ct_log *l)
{
    cmdraft_close(l->r);
    l->r = NULL;
}

static inline int
ct_log_propose(struct ct_log *l, const void *buf, size_t len,
               uint64_t *index)
{
    return cmdraft_propose(l->r, buf, len, 1000, index);
}

static inline uint64_t
ct_log_commit(const struct ct_log *l)
{
    return cmdraft_commit_index(l->r);
}

#endif
