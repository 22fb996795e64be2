/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_test.c: command entries: round trips, versions, validation. */
#include "node/cmd/cmd.h"

#include "node/base/err.h"
#include "node/cmd/cmd_testutil.h"
#include "store/state.h"

static Naos__V1__Command *
round_trip(const Naos__V1__Command *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    NT_EQ_INT(cmd_pack(c, &buf, &len, err, sizeof err), NAOS_OK);
    Naos__V1__Command *u = NULL;
    int rc = cmd_unpack(buf, len, &u, err, sizeof err);
    if (rc != NAOS_OK)
        NT_FAIL("cmd_unpack: %d: %s", rc, err);
    naos_free(buf);
    return u;
}

static void
test_deploy_round_trip(void)
{
    Naos__V1__Command c;
    cmd_init(&c, 7, 9, 1234);
    Naos__V1__DeployCommand d = NAOS__V1__DEPLOY_COMMAND__INIT;
    d.spec = ct_spec_pb("web");
    d.node_id = 42;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DEPLOY;
    c.deploy = &d;
    char err[256] = "";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    Naos__V1__Command *u = round_trip(&c);
    NT_EQ_INT(u->version, COMMAND_VERSION);
    NT_EQ_INT(u->client_id, 7);
    NT_EQ_INT(u->seq, 9);
    NT_EQ_INT(u->at_ms, 1234);
    NT_EQ_INT(u->cmd_case, NAOS__V1__COMMAND__CMD_DEPLOY);
    NT_EQ_STR(cmd_target(u), "web");
    NT_EQ_STR(cmd_type_name(u), "deploy");
    NT_EQ_INT(u->deploy->node_id, 42);
    NT_EQ_INT(cmd_validate(u, err, sizeof err), NAOS_OK);
    cmd_free(u);
    spec_pb_free(d.spec);
}

static void
test_newer_version_and_unknown_type_refused(void)
{
    /* A newer node's entry: its version is above ours. */
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 1);
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    nc.name = "web";
    c.cmd_case = NAOS__V1__COMMAND__CMD_STOP;
    c.stop = &nc;
    c.version = COMMAND_VERSION + 1;
    size_t len = naos__v1__command__get_packed_size(&c);
    uint8_t buf[256];
    naos__v1__command__pack(&c, buf);
    Naos__V1__Command *u = NULL;
    char err[256] = "";
    NT_EQ_INT(cmd_unpack(buf, len, &u, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "upgrade");
    NT_TRUE(u == NULL);
    /* A type this node does not know: field 99, length-delimited, with
     * only the version set: the oneof stays unset. */
    uint8_t unk[] = {0x08, 0x01, 0x9a, 0x06, 0x00};
    NT_EQ_INT(cmd_unpack(unk, sizeof unk, &u, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "type unknown");
    /* Garbage does not decode. */
    uint8_t junk[] = {0xff, 0xff, 0xff};
    NT_EQ_INT(cmd_unpack(junk, sizeof junk, &u, err, sizeof err),
              NAOS_EPROTO);
    /* Packing refuses an entry without a type. */
    Naos__V1__Command e;
    cmd_init(&e, 0, 0, 0);
    uint8_t *out = NULL;
    NT_EQ_INT(cmd_pack(&e, &out, &len, err, sizeof err), NAOS_EINVAL);
}

static void
test_validate_names_and_sizes(void)
{
    Naos__V1__Command c;
    char err[256];
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    cmd_init(&c, 0, 0, 1);
    c.cmd_case = NAOS__V1__COMMAND__CMD_STOP;
    c.stop = &nc;
    nc.name = "lab/workers/crashy";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    nc.name = "bad name";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "bad name");
    nc.name = "a//b";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    nc.name = "";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    /* rm takes a deployment, never a path. */
    c.cmd_case = NAOS__V1__COMMAND__CMD_REMOVE;
    c.stop = NULL;
    c.remove = &nc;
    nc.name = "lab/x";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    nc.name = "lab";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    /* A checkpoint over the limit. */
    Naos__V1__CheckpointSaveCommand s = NAOS__V1__CHECKPOINT_SAVE_COMMAND__INIT;
    s.path = "lab/w";
    s.data.len = STORE_CKPT_MAX + 1;
    c.cmd_case = NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE;
    c.checkpoint_save = &s;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "over the limit");
    s.data.len = 0;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    /* A deploy whose spec does not validate. */
    Naos__V1__DeployCommand d = NAOS__V1__DEPLOY_COMMAND__INIT;
    d.spec = ct_spec_pb("web");
    d.node_id = 1;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DEPLOY;
    c.deploy = &d;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    d.spec->children[0]->n_argv = 0;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "invalid spec");
    d.spec->children[0]->n_argv = 2;
    d.node_id = 0;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    spec_pb_free(d.spec);
    /* A drain names a node; a release a placement and its node; a move
     * off a drained node never counts. */
    Naos__V1__DrainCommand dr = NAOS__V1__DRAIN_COMMAND__INIT;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DRAIN;
    c.drain = &dr;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    dr.node_id = 5;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    NT_EQ_STR(cmd_type_name(&c), "undrain");
    Naos__V1__ReleaseCommand rl = NAOS__V1__RELEASE_COMMAND__INIT;
    rl.name = "lab";
    rl.node_id = 5;
    c.cmd_case = NAOS__V1__COMMAND__CMD_RELEASE;
    c.release = &rl;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    rl.epoch = 3;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    NT_EQ_STR(cmd_target(&c), "lab");
    Naos__V1__MigrateCommand mg = NAOS__V1__MIGRATE_COMMAND__INIT;
    mg.name = "lab";
    mg.from_epoch = 3;
    mg.to_node = 6;
    mg.reason = "drained";
    c.cmd_case = NAOS__V1__COMMAND__CMD_MIGRATE;
    c.migrate = &mg;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "never counts");
    mg.uncounted = true;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    mg.reason = "vacation";
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
    /* Unknown versions. */
    cmd_init(&c, 0, 0, 0);
    c.cmd_case = NAOS__V1__COMMAND__CMD_NOOP;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_OK);
    c.version = 0;
    NT_EQ_INT(cmd_validate(&c, err, sizeof err), NAOS_EINVAL);
}

static void
test_deploy_spec_normalizes(void)
{
    Naos__V1__NodeSpec *req = ct_spec_pb("web");
    Naos__V1__NodeSpec *out = NULL;
    char err[256] = "";
    NT_EQ_INT(cmd_deploy_spec(req, &out, err, sizeof err), NAOS_OK);
    NT_EQ_STR(out->id, "web");
    spec_pb_free(out);
    out = NULL;
    req->children[0]->n_argv = 0;
    NT_EQ_INT(cmd_deploy_spec(req, &out, err, sizeof err), NAOS_EINVAL);
    NT_TRUE(out == NULL);
    NT_TRUE(err[0] != '\0');
    req->children[0]->n_argv = 2;
    spec_pb_free(req);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_deploy_round_trip),
        NT_CASE(test_newer_version_and_unknown_type_refused),
        NT_CASE(test_validate_names_and_sizes),
        NT_CASE(test_deploy_spec_normalizes),
        {0},
    };
    return nt_run(cases);
}
