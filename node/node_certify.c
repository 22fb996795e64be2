/* SPDX-License-Identifier: Apache-2.0 */
/* node_certify.c: a dead node's guardian tells the cluster that nothing of
 * that node runs any more, so its work moves at once rather than after
 * its lease (issue 12, "work moves early only on proof"; docs/
 * architecture.md "The root supervisor").
 *
 * Two halves:
 *   - the plan (node side): while the node holds leases, it keeps
 *     RUN/certify.plan (a CertifyPlan, proto/forward.proto) up to date:
 *     its id, the cluster's, the run's lease instance, the key file and
 *     the other members' addresses (those gossip knows); written whole
 *     (temporary file + rename), looked at every PLAN_LOOK_MS, rewritten
 *     only when it changed;
 *   - `naos-node certify --plan FILE --instance HEX` (certify_main): what
 *     the guardian execs once the node died and every process of its
 *     watched groups and of its run is gone (proc/guardian.h); it sends
 *     nothing when the plan is another run's (a later start of the node
 *     rewrote it while a slow guardian of the earlier one caught up). It seals a LeaseCertificate for that
 *     instance under the cluster key, as the node (its id: the leader's
 *     replay marks see a counter above the dead run's, wall ms << 20 as
 *     any run starts), and sends it to every member at once, each over a
 *     connection of its own (net_send_once), within CERTIFY_TIMEOUT_MS in
 *     all. The leader takes it only for the instance it last granted
 *     (node_lease.c); a follower drops it.
 * A plan missing, unreadable or stale (another instance) sends nothing a
 * leader would take: the lease runs out as it would have. So does one
 * written before gossip told the node its peers' addresses (a node that
 * dies within its first moments): it names nobody to tell. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/auth/keys.h"
#include "node/auth/seal.h"
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/net/net.h"
#include "node/node.h"
#include "node/node_int.h"
#include "proto/forward.pb-c.h"

/* Looked at this often (a pack and a compare): a node that just started
 * learns its peers' addresses from gossip within its first moments. */
#define PLAN_LOOK_MS 200
#define PLAN_MAX (64u * 1024u) /* bytes: 16 addresses and a path */
#define PLAN_PEERS_MAX 16
/* The whole of a certify run: the sends, in turn. */
#define CERTIFY_TIMEOUT_MS 2000

void
node__certify_plan_path(const struct node *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s/certify.plan", n->run_dir);
}

/* write_plan replaces the plan file with buf[0..len), whole. */
static int
write_plan(const struct node *n, const uint8_t *buf, size_t len)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
    node__certify_plan_path(n, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return NAOS_ESYS;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, buf + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(fd);
            unlink(tmp);
            return NAOS_ESYS;
        }
        off += (size_t)k;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return NAOS_ESYS;
    }
    return NAOS_OK;
}

void
node__certify_plan_step(struct node *n)
{
    if (!n->lease_on || n->key_file[0] == '\0' ||
        n->r.now < n->certify_next)
        return;
    n->certify_next = n->r.now + PLAN_LOOK_MS;
    Naos__V1__CertifyPlan p = NAOS__V1__CERTIFY_PLAN__INIT;
    p.node_id = n->node_id;
    p.cluster_id = n->keyring.cluster_id;
    p.instance = n->lease_instance;
    p.key_file = n->key_file;
    p.counter_base = n->wire ? wire_first_counter(n->wire) : 0;
    char *peers[PLAN_PEERS_MAX];
    /* the leader first: its is the answer that counts, and certify tells
     * the members in turn */
    uint64_t ids[NODE_MEMBERS_MAX + 1];
    uint64_t leader = n->log ? raft_leader(cmdraft_core(n->log)).v : 0;
    ids[0] = leader;
    size_t k = 1 + node__conf_members(n, ids + 1);
    for (size_t i = 0; i < k && p.n_peers < PLAN_PEERS_MAX; i++) {
        if (ids[i] == 0 || ids[i] == n->node_id ||
            (i > 0 && ids[i] == leader))
            continue;
        const char *addr = node__members_addr(n, ids[i]);
        if (addr != NULL)
            peers[p.n_peers++] = (char *)addr;
    }
    p.peers = peers;
    size_t len = naos__v1__certify_plan__get_packed_size(&p);
    if (len > PLAN_MAX)
        return; /* unreachable: 16 addresses and a path */
    uint8_t buf[PLAN_MAX];
    naos__v1__certify_plan__pack(&p, buf);
    if (len == n->certify_plan_len &&
        memcmp(buf, n->certify_plan, len) == 0)
        return;
    if (write_plan(n, buf, len) != NAOS_OK) {
        NAOS_WARN("lease", "cannot write the guardian's certify plan: %s "
                  "(after a crash, this node's work moves only once its "
                  "lease runs out)", strerror(errno));
        return;
    }
    NAOS_DEBUG("lease", "certify plan written: instance %016" PRIx64 ", %zu "
               "members' addresses", p.instance, p.n_peers);
    uint8_t *copy = naos_alloc(len ? len : 1);
    if (copy == NULL)
        return; /* written; rewritten at the next look */
    memcpy(copy, buf, len);
    naos_free(n->certify_plan);
    n->certify_plan = copy;
    n->certify_plan_len = len;
}

void
node__certify_close(struct node *n)
{
    naos_free(n->certify_plan);
    n->certify_plan = NULL;
    n->certify_plan_len = 0;
}

/* ---- naos-node certify ----------------------------------------------------- */

/* read_plan: the whole file, at most PLAN_MAX bytes, unpacked. */
static Naos__V1__CertifyPlan *
read_plan(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        errno = e; /* the caller tells a missing plan apart */
        return NULL;
    }
    static uint8_t buf[PLAN_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t k = read(fd, buf + len, sizeof buf - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
        if (len == sizeof buf)
            break;
    }
    close(fd);
    if (len > PLAN_MAX) {
        snprintf(err, errlen, "%s is over %u bytes", path, PLAN_MAX);
        return NULL;
    }
    Naos__V1__CertifyPlan *p =
        naos__v1__certify_plan__unpack(NULL, len, buf);
    if (p == NULL || p->node_id == 0 || p->instance == 0 ||
        p->key_file == NULL || p->key_file[0] == '\0' ||
        p->n_peers > PLAN_PEERS_MAX) {
        if (p != NULL)
            naos__v1__certify_plan__free_unpacked(p, NULL);
        snprintf(err, errlen, "%s is not a certify plan", path);
        return NULL;
    }
    return p;
}

/* certify_counter: the certificate's envelope counter. Above what the
 * dead run sealed (it started at counter_base = its start's ms << 20 and
 * sealed far fewer than 2^19 envelopes a ms), and below what any later
 * run of the node seals (one started after this run died, at ms << 20 of
 * its start): half way along this run's lifetime's space, so that a node
 * restarted at once does not see its messages refused as replays below
 * the certificate's counter. A plan without a base (an older node):
 * now's ms << 20, as the node's own. */
static uint64_t
certify_counter(const Naos__V1__CertifyPlan *p, int64_t wall)
{
    if (p->counter_base == 0)
        return (uint64_t)wall << 20;
    int64_t started = (int64_t)(p->counter_base >> 20);
    uint64_t lived = wall > started ? (uint64_t)(wall - started) : 1;
    return p->counter_base + (lived << 19);
}

/* seal_certificate: the envelope, as the node, into out. */
static int
seal_certificate(const Naos__V1__CertifyPlan *p, uint8_t *out, size_t cap,
                 size_t *outlen, char *err, size_t errlen)
{
    struct auth_keyring kr = {0};
    struct auth_key key = {0};
    int rc = auth_keyring_init(&kr, p->cluster_id);
    if (rc == NAOS_OK &&
        (rc = auth_keyfile_load(p->key_file, &key, err, errlen)) == NAOS_OK)
        rc = auth_keyring_install(&kr, &key);
    auth_key_fini(&key);
    if (rc != NAOS_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "cannot set up the key: %s",
                     naos_strerror(rc));
        auth_keyring_fini(&kr);
        return rc;
    }
    Naos__V1__LeaseCertificate c = NAOS__V1__LEASE_CERTIFICATE__INIT;
    c.instance = p->instance;
    uint8_t payload[64];
    size_t plen = naos__v1__lease_certificate__get_packed_size(&c);
    naos__v1__lease_certificate__pack(&c, payload);
    int64_t wall = naos_clock_wall_ms();
    struct auth_sender s;
    auth_sender_init(&s, p->node_id, certify_counter(p, wall));
    rc = auth_seal(&kr, &s, wall, NODE_LEASE_CERT_TYPE, payload, plen, out,
                   cap, outlen, NULL);
    auth_keyring_fini(&kr);
    if (rc != NAOS_OK)
        snprintf(err, errlen, "cannot seal the certificate: %s",
                 naos_strerror(rc));
    return rc;
}

int
certify_main(int argc, char **argv)
{
    char *end = NULL;
    unsigned long long run = 0;
    if (argc == 5 && strcmp(argv[3], "--instance") == 0) {
        errno = 0;
        run = strtoull(argv[4], &end, 16);
    }
    if (argc != 5 || strcmp(argv[0], "certify") != 0 ||
        strcmp(argv[1], "--plan") != 0 || run == 0 || end == NULL ||
        *end != '\0' || errno != 0) {
        fprintf(stderr, "naos-node: fatal: certify: internal command, run "
                "by a dead node's guardian\n");
        return 100;
    }
    char err[512] = "";
    Naos__V1__CertifyPlan *p = read_plan(argv[2], err, sizeof err);
    if (p == NULL && errno == ENOENT) {
        NAOS_DEBUG("certify", "no plan: a node alone has no lease to end");
        return 0;
    }
    if (p == NULL) {
        NAOS_WARN("certify", "no certificate sent (%s): the cluster waits "
                  "for this node's lease to run out", err);
        return 0; /* a lone node, or one that never held a lease */
    }
    if (p->instance != run) {
        /* A later run of the node wrote it: this guardian's run is not
         * the one it names (it must never certify a live run dead). */
        NAOS_WARN("certify", "no certificate sent: the plan is of another "
                  "run of the node (%016" PRIx64 ", not %016llx)",
                  p->instance, run);
        naos__v1__certify_plan__free_unpacked(p, NULL);
        return 0;
    }
    uint8_t env[AUTH_MAX_ENVELOPE];
    size_t elen = 0;
    int sent = 0;
    if (seal_certificate(p, env, sizeof env, &elen, err, sizeof err) !=
        NAOS_OK) {
        NAOS_ERROR("certify", "%s", err);
    } else {
        naos_time deadline = naos_clock_now() + CERTIFY_TIMEOUT_MS;
        for (size_t i = 0; i < p->n_peers; i++) {
            naos_time now = naos_clock_now();
            if (now >= deadline)
                break;
            if (net_send_once(p->peers[i], env, elen,
                              (naos_duration)(deadline - now), err,
                              sizeof err) == NAOS_OK)
                sent++;
            else
                NAOS_DEBUG("certify", "%s", err);
        }
        NAOS_INFO("certify", "node %016" PRIx64 " is dead and none of its "
                  "agents' processes runs: told %d of %zu members", p->node_id,
                  sent, p->n_peers);
    }
    naos__v1__certify_plan__free_unpacked(p, NULL);
    return sent > 0 ? 0 : 1;
}
