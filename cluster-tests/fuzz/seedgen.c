/* SPDX-License-Identifier: Apache-2.0 */
/* seedgen.c: writes the seed corpora of the fuzz targets into
 * DIR/<target>/ (DIR is cluster-tests/fuzz/corpus when run by the
 * `fuzz-seeds` target). A few small valid inputs per target, built with the
 * real encoders, so the fuzzers start from inputs that get past the first
 * checks. Envelopes are sealed under the fixed keys of node/auth/auth_fuzz.h
 * at its fixed clock, so they open in envelope_fuzz. Rerun after a schema
 * change; new seeds replace the old ones of the same name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/auth/auth_fuzz.h"
#include "node/auth/seal.h"
#include "node/base/err.h"
#include "proto/naos.pb-c.h"
#include "proto/store.pb-c.h"
#include "proto/gossip.pb-c.h"
#include "proto/raft.pb-c.h"
#include "proto/wire.pb-c.h"

static const char *corpus_root;

static void
put(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", corpus_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(111);
    }
    snprintf(path, sizeof path, "%s/%s/%s", corpus_root, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(111);
    }
}

static void
put_msg(const char *target, const char *name, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(m, buf);
    put(target, name, buf, n);
    free(buf);
}

/* ---- envelopes ------------------------------------------------------ */

static void
keyring(struct auth_keyring *kr, uint64_t cluster, int byte)
{
    unsigned char raw[AUTH_KEY_BYTES];
    struct auth_key k = AUTH_KEY_ZERO;
    memset(raw, byte, sizeof raw);
    NAOS_ASSERT(auth_keyring_init(kr, cluster) == NAOS_OK);
    NAOS_ASSERT(auth_key_init_from(&k, raw) == NAOS_OK);
    NAOS_ASSERT(auth_keyring_install(kr, &k) == NAOS_OK);
    auth_key_fini(&k);
}

static void
envelopes(void)
{
    struct auth_keyring k1, k2, other;
    keyring(&k1, AUTH_FUZZ_CLUSTER, AUTH_FUZZ_KEY1_BYTE);
    keyring(&k2, AUTH_FUZZ_CLUSTER, AUTH_FUZZ_KEY2_BYTE);
    keyring(&other, AUTH_FUZZ_CLUSTER + 1, AUTH_FUZZ_KEY1_BYTE);
    struct auth_sender s;
    auth_sender_init(&s, 3, 1);
    uint8_t buf[1024];
    size_t n;
    const struct {
        const char *name;
        const struct auth_keyring *kr;
        int64_t at;
        uint32_t type;
        const char *payload;
    } seeds[] = {
        {"key1-ping", &k1, AUTH_FUZZ_NOW, 1, "ping"},
        {"key1-empty", &k1, AUTH_FUZZ_NOW - 1000, 2, ""},
        {"key2-gossip", &k2, AUTH_FUZZ_NOW + 1000, 3,
         "member 7 alive incarnation 3"},
        {"stale", &k1, AUTH_FUZZ_NOW - 60000, 1, "old"},
        {"other-cluster", &other, AUTH_FUZZ_NOW, 1, "x"},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        NAOS_ASSERT(auth_seal(seeds[i].kr, &s, seeds[i].at, seeds[i].type,
                              seeds[i].payload, strlen(seeds[i].payload), buf,
                              sizeof buf, &n, NULL) == NAOS_OK);
        put("envelope_fuzz", seeds[i].name, buf, n);
        put("proto_envelope_fuzz", seeds[i].name, buf, n);
    }
    auth_keyring_fini(&k1);
    auth_keyring_fini(&k2);
    auth_keyring_fini(&other);

    Naos__V1__Sealed sealed = NAOS__V1__SEALED__INIT;
    sealed.type = 5;
    sealed.payload.data = (uint8_t *)"payload";
    sealed.payload.len = 7;
    put_msg("proto_sealed_fuzz", "typed", &sealed.base);
    sealed.payload.len = 0;
    put_msg("proto_sealed_fuzz", "empty-payload", &sealed.base);

    /* replay_fuzz: operations of 3 bytes (see replay_fuzz.c). */
    static const uint8_t in_order[] = {1, 0, 0, 1, 0, 0, 1, 0, 2, 1, 0, 0};
    static const uint8_t reorder[] = {5, 0, 0, 0xfe, 0, 0, 0xff, 0, 0,
                                     0, 0, 0, 0x80, 0, 0, 0x7f, 0, 0};
    static const uint8_t mixed[] = {1, 0x70, 0, 1, 0x90, 0, 1, 0, 1,
                                    1, 0, 4, 1, 0, 8, 1, 0, 16, 1, 0, 32};
    put("replay_fuzz", "in-order", in_order, sizeof in_order);
    put("replay_fuzz", "reorder", reorder, sizeof reorder);
    put("replay_fuzz", "mixed", mixed, sizeof mixed);

    /* keyfile_fuzz */
    unsigned char raw[AUTH_KEY_BYTES];
    for (int i = 0; i < AUTH_KEY_BYTES; i++)
        raw[i] = (unsigned char)(i * 7);
    struct auth_key k = AUTH_KEY_ZERO;
    char line[AUTH_KEYFILE_LINE_MAX + 1];
    NAOS_ASSERT(auth_key_init_from(&k, raw) == NAOS_OK);
    NAOS_ASSERT(auth_keyfile_format(&k, line, sizeof line) == NAOS_OK);
    auth_key_fini(&k);
    put("keyfile_fuzz", "valid", line, strlen(line));
    line[25] = 'Z';
    put("keyfile_fuzz", "bad-id", line, strlen(line));
    put("keyfile_fuzz", "magic-only", AUTH_KEYFILE_MAGIC " ",
        strlen(AUTH_KEYFILE_MAGIC) + 1);
}

/* ---- control protocol ----------------------------------------------- */

static void
control(void)
{
    /* A supervisor with two workers. */
    char *argv1[] = {"python3", "fetch.py"};
    char *env1[] = {"KEY=value"};
    Naos__V1__NodeSpec w1 = NAOS__V1__NODE_SPEC__INIT;
    w1.id = "fetcher";
    w1.n_argv = 2;
    w1.argv = argv1;
    w1.n_env = 1;
    w1.env = env1;
    w1.cwd = "/srv";
    w1.shutdown_ms = 5000;
    w1.backoff_min_ms = 1000;
    w1.backoff_max_ms = 30000;
    w1.ready = NAOS__V1__READY_MODE__READY_NOTIFY;
    w1.watchdog_ms = 30000;
    char *argv2[] = {"/bin/sh", "-c", "./scraper --headless"};
    Naos__V1__NodeSpec w2 = NAOS__V1__NODE_SPEC__INIT;
    w2.id = "scraper";
    w2.n_argv = 3;
    w2.argv = argv2;
    w2.restart = NAOS__V1__RESTART_TYPE__TRANSIENT;
    w2.shutdown_ms = -1;
    Naos__V1__NodeSpec *kids[] = {&w1, &w2};
    Naos__V1__NodeSpec root = NAOS__V1__NODE_SPEC__INIT;
    root.id = "research";
    root.is_supervisor = 1;
    root.strategy = NAOS__V1__STRATEGY__REST_FOR_ONE;
    root.max_restarts = 5;
    root.window_s = 300;
    root.n_children = 2;
    root.children = kids;
    put_msg("proto_nodespec_fuzz", "tree", &root.base);
    put_msg("proto_nodespec_fuzz", "worker", &w1.base);

    Naos__V1__DeployRequest dep = NAOS__V1__DEPLOY_REQUEST__INIT;
    dep.spec = &root;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_DEPLOY;
    req.deploy = &dep;
    put_msg("proto_request_fuzz", "deploy", &req.base);
    Naos__V1__NameRequest name = NAOS__V1__NAME_REQUEST__INIT;
    name.name = "research";
    req.req_case = NAOS__V1__REQUEST__REQ_STOP;
    req.stop = &name;
    put_msg("proto_request_fuzz", "stop", &req.base);
    Naos__V1__StatusRequest st = NAOS__V1__STATUS_REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
    req.status = &st;
    put_msg("proto_request_fuzz", "status", &req.base);
    Naos__V1__EventsRequest ev = NAOS__V1__EVENTS_REQUEST__INIT;
    ev.since = 10;
    ev.max = 100;
    req.req_case = NAOS__V1__REQUEST__REQ_EVENTS;
    req.events = &ev;
    put_msg("proto_request_fuzz", "events", &req.base);
    Naos__V1__LogsRequest lg = NAOS__V1__LOGS_REQUEST__INIT;
    lg.name = "research/fetcher";
    lg.offset = -1;
    lg.tail_lines = 20;
    req.req_case = NAOS__V1__REQUEST__REQ_LOGS;
    req.logs = &lg;
    put_msg("proto_request_fuzz", "logs", &req.base);

    /* Replies. */
    Naos__V1__ExitReason why = NAOS__V1__EXIT_REASON__INIT;
    why.reason = "exit:1";
    why.at_wall_ms = 1700000000000;
    Naos__V1__NodeStatus ns1 = NAOS__V1__NODE_STATUS__INIT;
    ns1.id = "fetcher";
    ns1.path = "research/fetcher";
    ns1.state = "running";
    ns1.pid = 1234;
    ns1.restarts = 2;
    ns1.last_exit = &why;
    Naos__V1__NodeStatus *nkids[] = {&ns1};
    Naos__V1__NodeStatus ns = NAOS__V1__NODE_STATUS__INIT;
    ns.id = "research";
    ns.path = "research";
    ns.is_supervisor = 1;
    ns.state = "running";
    ns.strategy = "rest-for-one";
    ns.n_children = 1;
    ns.children = nkids;
    Naos__V1__DeploymentStatus ds = NAOS__V1__DEPLOYMENT_STATUS__INIT;
    ds.name = "research";
    ds.state = "running";
    ds.tree = &ns;
    Naos__V1__DeploymentStatus *dss[] = {&ds};
    Naos__V1__Status status = NAOS__V1__STATUS__INIT;
    status.node = "node-1";
    status.n_deployments = 1;
    status.deployments = dss;
    Naos__V1__Reply rep = NAOS__V1__REPLY__INIT;
    rep.rep_case = NAOS__V1__REPLY__REP_STATUS;
    rep.status = &status;
    put_msg("proto_reply_fuzz", "status", &rep.base);
    Naos__V1__Event e = NAOS__V1__EVENT__INIT;
    e.seq = 5;
    e.kind = "restart";
    e.deployment = "research";
    e.path = "research/fetcher";
    e.pid = 99;
    Naos__V1__Event *evs[] = {&e, &e};
    Naos__V1__EventsReply er = NAOS__V1__EVENTS_REPLY__INIT;
    er.n_events = 2;
    er.events = evs;
    er.next = 6;
    rep.rep_case = NAOS__V1__REPLY__REP_EVENTS;
    rep.events = &er;
    put_msg("proto_reply_fuzz", "events", &rep.base);
    Naos__V1__LogsReply lr = NAOS__V1__LOGS_REPLY__INIT;
    lr.data.data = (uint8_t *)"line 1\nline 2\n";
    lr.data.len = 14;
    lr.next_offset = 14;
    lr.path = "research/fetcher";
    rep.rep_case = NAOS__V1__REPLY__REP_LOGS;
    rep.logs = &lr;
    put_msg("proto_reply_fuzz", "logs", &rep.base);
    rep.rep_case = NAOS__V1__REPLY__REP_MESSAGE;
    rep.message = "stopped research";
    put_msg("proto_reply_fuzz", "message", &rep.base);
    Naos__V1__Reply bad = NAOS__V1__REPLY__INIT;
    bad.code = NAOS__V1__ERROR_CODE__NOT_FOUND;
    bad.error = "no deployment named x";
    put_msg("proto_reply_fuzz", "error", &bad.base);

    /* Store records. */
    Naos__V1__LogEntryRecord le = NAOS__V1__LOG_ENTRY_RECORD__INIT;
    le.term = 3;
    le.data.data = (uint8_t *)"cmd";
    le.data.len = 3;
    put_msg("proto_log_entry_record_fuzz", "entry", &le.base);
    Naos__V1__HardStateRecord hs = NAOS__V1__HARD_STATE_RECORD__INIT;
    hs.term = 3;
    hs.vote = 2;
    hs.commit = 17;
    put_msg("proto_hard_state_record_fuzz", "state", &hs.base);
    Naos__V1__DeploymentRecord dr = NAOS__V1__DEPLOYMENT_RECORD__INIT;
    dr.name = "research";
    dr.spec = &root;
    dr.desired = NAOS__V1__DESIRED_STATE__DESIRED_RUNNING;
    dr.generation = 4;
    dr.updated_at_ms = 1700000000000;
    put_msg("proto_deployment_record_fuzz", "deployment", &dr.base);
    Naos__V1__PlacementRecord pr = NAOS__V1__PLACEMENT_RECORD__INIT;
    pr.name = "research";
    pr.node_id = 7;
    pr.epoch = 2;
    put_msg("proto_placement_record_fuzz", "placement", &pr.base);
    Naos__V1__NodeRecord nr = NAOS__V1__NODE_RECORD__INIT;
    nr.id = 7;
    nr.name = "node-7";
    nr.addr = "tcp://10.0.0.7:7400";
    nr.state = NAOS__V1__NODE_RECORD_STATE__NODE_RECORD_SUSPECT;
    nr.incarnation = 9;
    put_msg("proto_node_record_fuzz", "node", &nr.base);
    Naos__V1__CheckpointRecord cr = NAOS__V1__CHECKPOINT_RECORD__INIT;
    cr.path = "research/fetcher";
    cr.data.data = (uint8_t *)"{\"step\": 4}";
    cr.data.len = 11;
    cr.saved_at_ms = 1700000000000;
    cr.size = 11;
    cr.seq = 1;
    put_msg("proto_checkpoint_record_fuzz", "checkpoint", &cr.base);
    Naos__V1__IdentityRecord ir = NAOS__V1__IDENTITY_RECORD__INIT;
    ir.node_id = 7;
    ir.cluster_id = AUTH_FUZZ_CLUSTER;
    ir.created_at_ms = 1700000000000;
    put_msg("proto_identity_record_fuzz", "identity", &ir.base);
}

/* ---- gossip (proto/gossip.proto) ------------------------------------- */

static void
gossip(void)
{
    Naos__V1__SwimUpdate u1 = NAOS__V1__SWIM_UPDATE__INIT;
    u1.kind = 1;
    u1.id = 7;
    u1.incarnation = 3;
    u1.name = "n7";
    u1.addr = "tcp://127.0.0.1:7946";
    u1.full = 1;
    Naos__V1__SwimUpdate u2 = NAOS__V1__SWIM_UPDATE__INIT;
    u2.kind = 5;
    u2.id = 7;
    u2.health_inc = 3;
    u2.health_ver = 2;
    u2.health.data = (uint8_t *)"\x08\x02\x20\x01\x28\x64";
    u2.health.len = 6;
    Naos__V1__SwimUpdate *ups[] = {&u1, &u2};
    uint64_t wants[] = {9, 10};
    Naos__V1__SwimMsg m = NAOS__V1__SWIM_MSG__INIT;
    m.seq = 42;
    m.target = 8;
    m.target_addr = "tcp://127.0.0.1:7947";
    m.join = 1;
    m.n_updates = 2;
    m.updates = ups;
    m.n_wants = 2;
    m.wants = wants;
    put_msg("proto_swim_msg_fuzz", "sync", &m.base);
    Naos__V1__NodeHealth h = NAOS__V1__NODE_HEALTH__INIT;
    h.agents_running = 2;
    h.deployments = 1;
    h.load_centi = 100;
    put_msg("proto_node_health_fuzz", "health", &h.base);
}

/* ---- raft (proto/raft.proto) ---------------------------------------- */

/* raft_codec_fuzz's input: one byte choosing Sealed.type 64 + (b & 7),
 * then the payload. */
static void
put_raft(const char *name, uint8_t type, const Naos__V1__RaftMessage *m)
{
    size_t n = naos__v1__raft_message__get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    buf[0] = type;
    naos__v1__raft_message__pack(m, buf + 1);
    put("raft_codec_fuzz", name, buf, n + 1);
    free(buf);
}

static void
raft(void)
{
    Naos__V1__RaftMessage m = NAOS__V1__RAFT_MESSAGE__INIT;
    m.version = 1;
    m.cluster_id = AUTH_FUZZ_CLUSTER;
    m.to = 2;
    m.type = 1; /* prevote */
    m.term = 4;
    m.last_index = 17;
    m.last_term = 3;
    put_raft("prevote", 1, &m);
    m.type = 4; /* vote-resp */
    m.last_index = m.last_term = 0;
    m.granted = 1;
    put_raft("vote-resp", 4, &m);
    m.granted = 0;

    Naos__V1__RaftEntry e1 = NAOS__V1__RAFT_ENTRY__INIT;
    e1.index = 18;
    e1.term = 4;
    e1.type = 1; /* no-op: empty */
    Naos__V1__RaftEntry e2 = NAOS__V1__RAFT_ENTRY__INIT;
    e2.index = 19;
    e2.term = 4;
    e2.type = 3;
    e2.version = 1;
    e2.data.data = (uint8_t *)"\x08\x01\x12\x08research";
    e2.data.len = 12;
    Naos__V1__RaftEntry *ents[] = {&e1, &e2};
    m.type = 5; /* append */
    m.prev_index = 17;
    m.prev_term = 3;
    m.commit = 17;
    m.n_entries = 2;
    m.entries = ents;
    put_raft("append", 5, &m);
    m.n_entries = 0;
    m.entries = NULL;
    put_raft("heartbeat", 5, &m);

    m.type = 6; /* append-resp, rejected with a hint */
    m.prev_index = m.prev_term = m.commit = 0;
    m.reject_index = 17;
    m.hint_index = 12;
    m.hint_term = 2;
    put_raft("append-resp-reject", 6, &m);
    m.reject_index = m.hint_index = m.hint_term = 0;
    m.success = 1;
    m.match_index = 19;
    put_raft("append-resp-ok", 6, &m);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seedgen CORPUS_DIR\n");
        return 100;
    }
    corpus_root = argv[1];
    if (mkdir(corpus_root, 0755) != 0 && errno != EEXIST) {
        perror(corpus_root);
        return 111;
    }
    envelopes();
    control();
    gossip();
    raft();
    return 0;
}
