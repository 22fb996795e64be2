/* SPDX-License-Identifier: Apache-2.0 */
/* state.c: deployments, placements, node registry, checkpoints, identity
 * and last_applied on top of store.h. Every table here holds one record
 * type keyed by a name (or a big-endian id); the generic helpers below do
 * the work and the typed functions only pick the table, key and type. */
#include "store/state.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/time.h"
#include "proto/spec_pb.h"
#include "store/store_pb.h"

#define IDENTITY_KEY "self"
#define APPLIED_KEY "last_applied"

/* ---- generic record helpers ------------------------------------------ */

struct key {
    const void *p;
    size_t len;
    unsigned char buf[8]; /* id keys */
};

static struct key
name_key(const char *name)
{
    struct key k = {name, name != NULL ? strlen(name) : 0, {0}};
    return k;
}

static struct key
id_key(uint64_t id)
{
    struct key k = {NULL, 8, {0}};
    store_be64_put(k.buf, id);
    return k;
}

static const void *
key_ptr(const struct key *k)
{
    return k->p != NULL ? k->p : k->buf;
}

struct rec_args {
    enum store_table tb;
    struct key key;
    const ProtobufCMessageDescriptor *d;
    const ProtobufCMessage *in; /* put */
    ProtobufCMessage *out;      /* get */
    /* list */
    ProtobufCMessage **v;
    size_t n, cap;
    bool strip_data; /* checkpoints: drop the bytes field `data` */
    struct store_txn *t;
};

static int
put_fn(struct store_txn *t, void *arg)
{
    struct rec_args *a = arg;
    return store_pb_put(t, a->tb, key_ptr(&a->key), a->key.len, a->in, 0);
}

static int
get_fn(struct store_txn *t, void *arg)
{
    struct rec_args *a = arg;
    return store_pb_get(t, a->tb, key_ptr(&a->key), a->key.len, a->d,
                        &a->out);
}

static int
del_fn(struct store_txn *t, void *arg)
{
    struct rec_args *a = arg;
    return store_txn_del(t, a->tb, key_ptr(&a->key), a->key.len);
}

static int
put_rec(struct store *s, enum store_table tb, struct key k,
        const ProtobufCMessage *m)
{
    struct rec_args a = {.tb = tb, .key = k, .in = m};
    return store_write(s, put_fn, &a);
}

static int
get_rec(struct store *s, enum store_table tb, struct key k,
        const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
    struct rec_args a = {.tb = tb, .key = k, .d = d};
    int err = store_read(s, get_fn, &a);
    if (err == NAOS_ENOTFOUND && store_errmsg(s)[0] == '\0')
        store_fail(s, err, "store: %s: no such key", d->short_name);
    if (err != NAOS_OK)
        return err;
    *out = a.out;
    return NAOS_OK;
}

static int
del_rec(struct store *s, enum store_table tb, struct key k)
{
    struct rec_args a = {.tb = tb, .key = k};
    return store_write(s, del_fn, &a);
}

static void
free_vec(ProtobufCMessage **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_pb_free(v[i]);
    naos_free(v);
}

static int
list_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
    struct rec_args *a = arg;
    (void)key;
    (void)klen;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        ProtobufCMessage **v = naos_realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            return NAOS_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    ProtobufCMessage *m;
    int err = store_pb_decode(a->t, a->tb, val, vlen, a->d, &m);
    if (err != NAOS_OK)
        return err;
    if (a->strip_data) {
        /* Freed the way protobuf_c_message_free_unpacked would. */
        Naos__V1__CheckpointRecord *c = (Naos__V1__CheckpointRecord *)m;
        if (c->data.data != NULL)
            spec_pb_allocator.free(spec_pb_allocator.allocator_data,
                                   c->data.data);
        c->data.data = NULL;
        c->data.len = 0;
    }
    a->v[a->n++] = m;
    return NAOS_OK;
}

static int
list_fn(struct store_txn *t, void *arg)
{
    struct rec_args *a = arg;
    free_vec(a->v, a->n);
    a->v = NULL;
    a->n = a->cap = 0;
    a->t = t;
    return store_txn_scan(t, a->tb, NULL, 0, list_one, a);
}

static int
list_rec(struct store *s, enum store_table tb,
         const ProtobufCMessageDescriptor *d, bool strip,
         ProtobufCMessage ***out, size_t *n)
{
    struct rec_args a = {.tb = tb, .d = d, .strip_data = strip};
    int err = store_read(s, list_fn, &a);
    if (err != NAOS_OK) {
        free_vec(a.v, a.n);
        return err;
    }
    *out = a.v;
    *n = a.n;
    return NAOS_OK;
}

/* check_name validates a name or path key, in or out of a transaction. */
static int
check_name(struct store *s, const char *what, const char *name)
{
    if (name == NULL || name[0] == '\0')
        return store_fail(s, NAOS_EINVAL, "store: %s: empty name", what);
    if (strlen(name) > STORE_MAX_KEY)
        return store_fail(s, NAOS_EINVAL,
                          "store: %s: name of %zu bytes (at most %d)", what,
                          strlen(name), STORE_MAX_KEY);
    return NAOS_OK;
}

#define TXN_S(t) store_txn_store(t)

/* ---- deployments --------------------------------------------------------*/

int
store_deploy_put_txn(struct store_txn *t,
                     const Naos__V1__DeploymentRecord *rec)
{
    int err = check_name(TXN_S(t), "deployment", rec ? rec->name : NULL);
    if (err != NAOS_OK)
        return err;
    return store_pb_put(t, STORE_DEPLOYMENTS, rec->name, strlen(rec->name),
                        &rec->base, 0);
}

int
store_deploy_put(struct store *s, const Naos__V1__DeploymentRecord *rec)
{
    int err = check_name(s, "deployment", rec ? rec->name : NULL);
    if (err != NAOS_OK)
        return err;
    return put_rec(s, STORE_DEPLOYMENTS, name_key(rec->name), &rec->base);
}

int
store_deploy_put_spec(struct store *s, const struct spec_node *spec,
                      Naos__V1__DesiredState desired, uint64_t generation,
                      int64_t updated_at_ms)
{
    if (spec == NULL)
        return store_fail(s, NAOS_EINVAL, "store_deploy_put_spec: no spec");
    Naos__V1__DeploymentRecord rec = NAOS__V1__DEPLOYMENT_RECORD__INIT;
    int err = spec_pb_from_spec(spec, &rec.spec);
    if (err != NAOS_OK)
        return store_fail(s, err, "store_deploy_put_spec: %s",
                          naos_strerror(err));
    rec.name = spec->id;
    rec.desired = desired;
    rec.generation = generation;
    rec.updated_at_ms = updated_at_ms;
    err = store_deploy_put(s, &rec);
    spec_pb_free(rec.spec);
    return err;
}

int
store_deploy_get_txn(struct store_txn *t, const char *name,
                     Naos__V1__DeploymentRecord **out)
{
    int err = check_name(TXN_S(t), "deployment", name);
    if (err != NAOS_OK)
        return err;
    return store_pb_get(t, STORE_DEPLOYMENTS, name, strlen(name),
                        &naos__v1__deployment_record__descriptor,
                        (ProtobufCMessage **)out);
}

int
store_deploy_get(struct store *s, const char *name,
                 Naos__V1__DeploymentRecord **out)
{
    int err = check_name(s, "deployment", name);
    if (err != NAOS_OK)
        return err;
    return get_rec(s, STORE_DEPLOYMENTS, name_key(name),
                   &naos__v1__deployment_record__descriptor,
                   (ProtobufCMessage **)out);
}

/* ckpt_owned: checkpoint key (klen bytes) belongs to deployment
 * name (nlen bytes): it is the deployment's own name, or an agent path
 * below it. "ab" and "a-b/x" are not "a"'s. */
static bool
ckpt_owned(const void *key, size_t klen, const char *name, size_t nlen)
{
    return klen >= nlen && memcmp(key, name, nlen) == 0 &&
           (klen == nlen || ((const char *)key)[nlen] == '/');
}

struct first_key {
    char key[STORE_MAX_KEY];
    size_t len;
    bool found;
};

static int
first_key_fn(const void *key, size_t klen, const void *val, size_t vlen,
             void *arg)
{
    struct first_key *a = arg;
    (void)val;
    (void)vlen;
    memcpy(a->key, key, klen); /* klen <= STORE_MAX_KEY: LMDB's limit */
    a->len = klen;
    a->found = true;
    return STORE_SCAN_STOP;
}

/* del_ckpts_txn deletes every checkpoint of deployment name in t: the one
 * under its own name and each under "name/". Paths under "name/" are
 * adjacent in key order, so each step seeks the first key >= "name/" and
 * stops at the first that is not the deployment's (one seek per
 * checkpoint, and no reliance on a cursor's position after a delete). */
static int
del_ckpts_txn(struct store_txn *t, const char *name)
{
    size_t nlen = strlen(name);
    int err = store_txn_del(t, STORE_CHECKPOINTS, name, nlen);
    if (err != NAOS_OK && err != NAOS_ENOTFOUND)
        return err;
    if (nlen + 1 > STORE_MAX_KEY)
        return NAOS_OK; /* no key can be longer than the prefix */
    char prefix[STORE_MAX_KEY + 1];
    memcpy(prefix, name, nlen);
    prefix[nlen] = '/';
    for (;;) {
        struct first_key a = {.found = false};
        err = store_txn_scan(t, STORE_CHECKPOINTS, prefix, nlen + 1,
                             first_key_fn, &a);
        if (err != NAOS_OK)
            return err;
        if (!a.found || !ckpt_owned(a.key, a.len, name, nlen))
            return NAOS_OK;
        if ((err = store_txn_del(t, STORE_CHECKPOINTS, a.key, a.len)) !=
            NAOS_OK)
            return err;
    }
}

/* A deployment's record and its checkpoints go in one transaction: the
 * next deployment of the same name must not resume from them, and the
 * space is freed for reuse (issue 9). */
int
store_deploy_del_txn(struct store_txn *t, const char *name)
{
    int err = check_name(TXN_S(t), "deployment", name);
    if (err != NAOS_OK)
        return err;
    err = store_txn_del(t, STORE_DEPLOYMENTS, name, strlen(name));
    if (err != NAOS_OK)
        return err;
    return del_ckpts_txn(t, name);
}

static int
deploy_del_fn(struct store_txn *t, void *arg)
{
    return store_deploy_del_txn(t, arg);
}

int
store_deploy_del(struct store *s, const char *name)
{
    int err = check_name(s, "deployment", name);
    if (err != NAOS_OK)
        return err;
    return store_write(s, deploy_del_fn, (void *)name);
}

int
store_deploy_list(struct store *s, Naos__V1__DeploymentRecord ***out,
                  size_t *n)
{
    return list_rec(s, STORE_DEPLOYMENTS,
                    &naos__v1__deployment_record__descriptor, false,
                    (ProtobufCMessage ***)out, n);
}

void
store_deploy_free(Naos__V1__DeploymentRecord *rec)
{
    store_pb_free((ProtobufCMessage *)rec);
}

void
store_deploy_list_free(Naos__V1__DeploymentRecord **recs, size_t n)
{
    free_vec((ProtobufCMessage **)recs, n);
}

/* ---- placements -------------------------------------------------------- */

int
store_placement_put_txn(struct store_txn *t,
                        const Naos__V1__PlacementRecord *rec)
{
    int err = check_name(TXN_S(t), "placement", rec ? rec->name : NULL);
    if (err != NAOS_OK)
        return err;
    return store_pb_put(t, STORE_PLACEMENTS, rec->name, strlen(rec->name),
                        &rec->base, 0);
}

int
store_placement_put(struct store *s, const Naos__V1__PlacementRecord *rec)
{
    int err = check_name(s, "placement", rec ? rec->name : NULL);
    if (err != NAOS_OK)
        return err;
    return put_rec(s, STORE_PLACEMENTS, name_key(rec->name), &rec->base);
}

int
store_placement_get_txn(struct store_txn *t, const char *name,
                        Naos__V1__PlacementRecord **out)
{
    int err = check_name(TXN_S(t), "placement", name);
    if (err != NAOS_OK)
        return err;
    return store_pb_get(t, STORE_PLACEMENTS, name, strlen(name),
                        &naos__v1__placement_record__descriptor,
                        (ProtobufCMessage **)out);
}

int
store_placement_get(struct store *s, const char *name,
                    Naos__V1__PlacementRecord **out)
{
    int err = check_name(s, "placement", name);
    if (err != NAOS_OK)
        return err;
    return get_rec(s, STORE_PLACEMENTS, name_key(name),
                   &naos__v1__placement_record__descriptor,
                   (ProtobufCMessage **)out);
}

int
store_placement_del_txn(struct store_txn *t, const char *name)
{
    int err = check_name(TXN_S(t), "placement", name);
    if (err != NAOS_OK)
        return err;
    return store_txn_del(t, STORE_PLACEMENTS, name, strlen(name));
}

int
store_placement_del(struct store *s, const char *name)
{
    int err = check_name(s, "placement", name);
    if (err != NAOS_OK)
        return err;
    return del_rec(s, STORE_PLACEMENTS, name_key(name));
}

int
store_placement_list(struct store *s, Naos__V1__PlacementRecord ***out,
                     size_t *n)
{
    return list_rec(s, STORE_PLACEMENTS,
                    &naos__v1__placement_record__descriptor, false,
                    (ProtobufCMessage ***)out, n);
}

void
store_placement_free(Naos__V1__PlacementRecord *rec)
{
    store_pb_free((ProtobufCMessage *)rec);
}

void
store_placement_list_free(Naos__V1__PlacementRecord **recs, size_t n)
{
    free_vec((ProtobufCMessage **)recs, n);
}

/* ---- node registry ----------------------------------------------------- */

int
store_node_put_txn(struct store_txn *t, const Naos__V1__NodeRecord *rec)
{
    if (rec == NULL || rec->id == 0)
        return store_txn_fail(t, NAOS_EINVAL, "store: node id 0");
    struct key k = id_key(rec->id);
    return store_pb_put(t, STORE_NODES, k.buf, 8, &rec->base, 0);
}

int
store_node_put(struct store *s, const Naos__V1__NodeRecord *rec)
{
    if (rec == NULL || rec->id == 0)
        return store_fail(s, NAOS_EINVAL, "store: node id 0");
    return put_rec(s, STORE_NODES, id_key(rec->id), &rec->base);
}

int
store_node_get(struct store *s, uint64_t id, Naos__V1__NodeRecord **out)
{
    return get_rec(s, STORE_NODES, id_key(id),
                   &naos__v1__node_record__descriptor,
                   (ProtobufCMessage **)out);
}

int
store_node_del_txn(struct store_txn *t, uint64_t id)
{
    struct key k = id_key(id);
    return store_txn_del(t, STORE_NODES, k.buf, 8);
}

int
store_node_del(struct store *s, uint64_t id)
{
    return del_rec(s, STORE_NODES, id_key(id));
}

int
store_node_list(struct store *s, Naos__V1__NodeRecord ***out, size_t *n)
{
    return list_rec(s, STORE_NODES, &naos__v1__node_record__descriptor,
                    false, (ProtobufCMessage ***)out, n);
}

void
store_node_free(Naos__V1__NodeRecord *rec)
{
    store_pb_free((ProtobufCMessage *)rec);
}

void
store_node_list_free(Naos__V1__NodeRecord **recs, size_t n)
{
    free_vec((ProtobufCMessage **)recs, n);
}

/* ---- drained nodes ----------------------------------------------------- */

int
store_drain_put_txn(struct store_txn *t, const Naos__V1__DrainRecord *rec)
{
    if (rec == NULL || rec->node_id == 0)
        return store_txn_fail(t, NAOS_EINVAL, "store: drain of node id 0");
    struct key k = id_key(rec->node_id);
    return store_pb_put(t, STORE_DRAINS, k.buf, 8, &rec->base, 0);
}

int
store_drain_del_txn(struct store_txn *t, uint64_t node_id)
{
    struct key k = id_key(node_id);
    return store_txn_del(t, STORE_DRAINS, k.buf, 8);
}

int
store_drain_get(struct store *s, uint64_t node_id,
                Naos__V1__DrainRecord **out)
{
    return get_rec(s, STORE_DRAINS, id_key(node_id),
                   &naos__v1__drain_record__descriptor,
                   (ProtobufCMessage **)out);
}

int
store_drain_get_txn(struct store_txn *t, uint64_t node_id,
                    Naos__V1__DrainRecord **out)
{
    struct key k = id_key(node_id);
    return store_pb_get(t, STORE_DRAINS, k.buf, 8,
                        &naos__v1__drain_record__descriptor,
                        (ProtobufCMessage **)out);
}

int
store_drain_list(struct store *s, Naos__V1__DrainRecord ***out, size_t *n)
{
    return list_rec(s, STORE_DRAINS, &naos__v1__drain_record__descriptor,
                    false, (ProtobufCMessage ***)out, n);
}

void
store_drain_free(Naos__V1__DrainRecord *rec)
{
    store_pb_free((ProtobufCMessage *)rec);
}

void
store_drain_list_free(Naos__V1__DrainRecord **recs, size_t n)
{
    free_vec((ProtobufCMessage **)recs, n);
}

/* ---- checkpoints ------------------------------------------------------- */

static int
ckpt_limit(struct store *s, const char *path, size_t len)
{
    if (len > STORE_CKPT_MAX)
        return store_fail(s, NAOS_ETOOBIG,
                          "checkpoint for %s is %zu bytes, over the limit of "
                          "1 MiB - 4 KiB (%u bytes): nothing was saved",
                          path, len, STORE_CKPT_MAX);
    return NAOS_OK;
}

int
store_ckpt_put_txn(struct store_txn *t, const Naos__V1__CheckpointRecord *rec)
{
    struct store *s = TXN_S(t);
    int err = check_name(s, "checkpoint", rec ? rec->path : NULL);
    if (err != NAOS_OK)
        return err;
    if ((err = ckpt_limit(s, rec->path, rec->data.len)) != NAOS_OK)
        return err;
    if (rec->size != rec->data.len)
        return store_txn_fail(t, NAOS_EINVAL,
                              "checkpoint for %s: size %llu but %zu bytes",
                              rec->path, (unsigned long long)rec->size,
                              rec->data.len);
    return store_pb_put(t, STORE_CHECKPOINTS, rec->path, strlen(rec->path),
                        &rec->base, 0);
}

struct save_args {
    const char *path;
    const char *const *aliases;
    size_t naliases;
    const void *data;
    size_t len;
    int64_t at;
    const struct store_ckpt_origin *origin;
    uint64_t seq;
};

/* Raises *seq to the seq of the record under key, if there is one. */
static int
max_seq(struct store_txn *t, const char *key, uint64_t *seq)
{
    Naos__V1__CheckpointRecord *old;
    int err = store_pb_get(t, STORE_CHECKPOINTS, key, strlen(key),
                           &naos__v1__checkpoint_record__descriptor,
                           (ProtobufCMessage **)&old);
    if (err == NAOS_ENOTFOUND)
        return NAOS_OK;
    if (err != NAOS_OK)
        return err;
    if (old->seq > *seq)
        *seq = old->seq;
    store_pb_free(&old->base);
    return NAOS_OK;
}

static int
save_fn(struct store_txn *t, void *arg)
{
    struct save_args *a = arg;
    uint64_t seq = 0;
    int err = max_seq(t, a->path, &seq);
    for (size_t i = 0; err == NAOS_OK && i < a->naliases; i++) {
        if (strcmp(a->aliases[i], a->path) == 0)
            continue;
        if ((err = max_seq(t, a->aliases[i], &seq)) != NAOS_OK)
            break;
        err = store_ckpt_del_txn(t, a->aliases[i]);
        if (err == NAOS_ENOTFOUND)
            err = NAOS_OK;
    }
    if (err != NAOS_OK)
        return err;
    Naos__V1__CheckpointRecord rec = NAOS__V1__CHECKPOINT_RECORD__INIT;
    rec.path = (char *)a->path;
    rec.data.data = (uint8_t *)a->data;
    rec.data.len = a->len;
    rec.saved_at_ms = a->at;
    rec.size = a->len;
    rec.seq = seq + 1;
    if (a->origin && a->origin->agent && a->origin->agent[0]) {
        rec.saved_by_agent = (char *)a->origin->agent;
        rec.saved_by_pid = a->origin->pid;
        rec.saved_by_restarts = a->origin->restarts;
    }
    a->seq = rec.seq;
    return store_ckpt_put_txn(t, &rec);
}

int
store_ckpt_save_ex_txn(struct store_txn *t, const char *path,
                       const char *const *aliases, size_t naliases,
                       const void *data, size_t len, int64_t saved_at_ms,
                       const struct store_ckpt_origin *origin, uint64_t *seq)
{
    struct store *s = TXN_S(t);
    int err = check_name(s, "checkpoint", path);
    if (err != NAOS_OK)
        return err;
    for (size_t i = 0; i < naliases; i++)
        if ((err = check_name(s, "checkpoint", aliases[i])) != NAOS_OK)
            return err;
    if ((err = ckpt_limit(s, path, len)) != NAOS_OK)
        return err;
    if (data == NULL && len > 0)
        return store_txn_fail(t, NAOS_EINVAL, "checkpoint for %s: no data",
                              path);
    struct save_args a = {path, aliases, naliases, data, len, saved_at_ms,
                          origin, 0};
    err = save_fn(t, &a);
    if (err == NAOS_OK && seq != NULL)
        *seq = a.seq;
    return err;
}

int
store_ckpt_save_ex(struct store *s, const char *path,
                   const char *const *aliases, size_t naliases,
                   const void *data, size_t len, int64_t saved_at_ms,
                   const struct store_ckpt_origin *origin, uint64_t *seq)
{
    int err = check_name(s, "checkpoint", path);
    if (err != NAOS_OK)
        return err;
    for (size_t i = 0; i < naliases; i++)
        if ((err = check_name(s, "checkpoint", aliases[i])) != NAOS_OK)
            return err;
    /* Checked before any transaction, so an oversized save costs nothing
     * and changes nothing. */
    if ((err = ckpt_limit(s, path, len)) != NAOS_OK)
        return err;
    if (data == NULL && len > 0)
        return store_fail(s, NAOS_EINVAL, "checkpoint for %s: no data",
                          path);
    struct save_args a = {path, aliases, naliases, data, len, saved_at_ms,
                          origin, 0};
    err = store_write(s, save_fn, &a);
    if (err == NAOS_OK && seq != NULL)
        *seq = a.seq;
    return err;
}

int
store_ckpt_save(struct store *s, const char *path, const void *data,
                size_t len, int64_t saved_at_ms, uint64_t *seq)
{
    return store_ckpt_save_ex(s, path, NULL, 0, data, len, saved_at_ms, NULL,
                              seq);
}

int
store_ckpt_get(struct store *s, const char *path,
               Naos__V1__CheckpointRecord **out)
{
    int err = check_name(s, "checkpoint", path);
    if (err != NAOS_OK)
        return err;
    err = get_rec(s, STORE_CHECKPOINTS, name_key(path),
                  &naos__v1__checkpoint_record__descriptor,
                  (ProtobufCMessage **)out);
    if (err == NAOS_ENOTFOUND)
        store_fail(s, err, "no checkpoint saved for %s", path);
    return err;
}

int
store_ckpt_del_txn(struct store_txn *t, const char *path)
{
    int err = check_name(TXN_S(t), "checkpoint", path);
    if (err != NAOS_OK)
        return err;
    return store_txn_del(t, STORE_CHECKPOINTS, path, strlen(path));
}

int
store_ckpt_del(struct store *s, const char *path)
{
    int err = check_name(s, "checkpoint", path);
    if (err != NAOS_OK)
        return err;
    return del_rec(s, STORE_CHECKPOINTS, name_key(path));
}

int
store_ckpt_list(struct store *s, Naos__V1__CheckpointRecord ***out,
                size_t *n)
{
    return list_rec(s, STORE_CHECKPOINTS,
                    &naos__v1__checkpoint_record__descriptor, true,
                    (ProtobufCMessage ***)out, n);
}

void
store_ckpt_free(Naos__V1__CheckpointRecord *rec)
{
    store_pb_free((ProtobufCMessage *)rec);
}

void
store_ckpt_list_free(Naos__V1__CheckpointRecord **recs, size_t n)
{
    free_vec((ProtobufCMessage **)recs, n);
}

/* ---- identity ---------------------------------------------------------- */

static int
random_u64(uint64_t *out)
{
    uint64_t v = 0;
    while (v == 0) { /* 0 means "none" for ids */
        ssize_t n = getrandom(&v, sizeof v, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof v)
            return NAOS_ESYS;
    }
    *out = v;
    return NAOS_OK;
}

struct ident_args {
    struct store_identity want, got;
    bool created;
};

static int
ident_get_txn(struct store_txn *t, struct store_identity *out)
{
    Naos__V1__IdentityRecord *r;
    int err = store_pb_get(t, STORE_IDENTITY, IDENTITY_KEY,
                           strlen(IDENTITY_KEY),
                           &naos__v1__identity_record__descriptor,
                           (ProtobufCMessage **)&r);
    if (err != NAOS_OK)
        return err;
    *out = (struct store_identity){r->node_id, r->cluster_id,
                                   r->created_at_ms, r->cluster_fixed};
    store_pb_free(&r->base);
    return NAOS_OK;
}

static int
ident_fn(struct store_txn *t, void *arg)
{
    struct ident_args *a = arg;
    a->created = false;
    int err = ident_get_txn(t, &a->got);
    if (err != NAOS_ENOTFOUND)
        return err;
    Naos__V1__IdentityRecord r = NAOS__V1__IDENTITY_RECORD__INIT;
    r.node_id = a->want.node_id;
    r.cluster_id = a->want.cluster_id;
    r.created_at_ms = a->want.created_at_ms;
    r.cluster_fixed = a->want.cluster_fixed;
    err = store_pb_put(t, STORE_IDENTITY, IDENTITY_KEY, strlen(IDENTITY_KEY),
                       &r.base, STORE_PUT_NOOVERWRITE);
    if (err != NAOS_OK)
        return err;
    a->got = a->want;
    a->created = true;
    return NAOS_OK;
}

int
store_identity_get_or_create(struct store *s,
                             const struct store_identity *want,
                             struct store_identity *out, bool *created)
{
    struct ident_args a = {.want = STORE_IDENTITY_ZERO};
    if (want != NULL)
        a.want = *want;
    /* Randomness is drawn before the transaction: its body may rerun. */
    int err = NAOS_OK;
    if (a.want.node_id == 0)
        err = random_u64(&a.want.node_id);
    if (err == NAOS_OK && a.want.cluster_id == 0)
        err = random_u64(&a.want.cluster_id);
    if (err != NAOS_OK)
        return store_fail(s, err, "store: getrandom: %s", strerror(errno));
    if (a.want.created_at_ms == 0)
        a.want.created_at_ms = naos_clock_wall_ms();
    err = store_write(s, ident_fn, &a);
    if (err != NAOS_OK)
        return err;
    *out = a.got;
    if (created != NULL)
        *created = a.created;
    return NAOS_OK;
}

static int
ident_read_fn(struct store_txn *t, void *arg)
{
    return ident_get_txn(t, arg);
}

int
store_identity_get(struct store *s, struct store_identity *out)
{
    int err = store_read(s, ident_read_fn, out);
    if (err == NAOS_ENOTFOUND)
        store_fail(s, err, "store %s: no identity yet", store_dir(s));
    return err;
}

int
store_identity_put_txn(struct store_txn *t, const struct store_identity *id)
{
    if (id->node_id == 0 || id->cluster_id == 0)
        return store_txn_fail(t, NAOS_EINVAL, "store: identity with a zero "
                              "id");
    Naos__V1__IdentityRecord r = NAOS__V1__IDENTITY_RECORD__INIT;
    r.node_id = id->node_id;
    r.cluster_id = id->cluster_id;
    r.created_at_ms = id->created_at_ms;
    r.cluster_fixed = id->cluster_fixed;
    return store_pb_put(t, STORE_IDENTITY, IDENTITY_KEY, strlen(IDENTITY_KEY),
                        &r.base, 0);
}

int
store_identity_get_txn(struct store_txn *t, struct store_identity *out)
{
    return ident_get_txn(t, out);
}

/* ---- last applied ------------------------------------------------------ */

int
store_applied_get_txn(struct store_txn *t, uint64_t *index)
{
    const void *v;
    size_t vlen;
    int err = store_txn_get(t, STORE_META, APPLIED_KEY, strlen(APPLIED_KEY),
                            &v, &vlen);
    if (err == NAOS_ENOTFOUND) {
        *index = 0;
        return NAOS_OK;
    }
    if (err != NAOS_OK)
        return err;
    if (vlen != 8)
        return store_txn_fail(t, NAOS_ESTORE,
                              "store: last_applied of %zu bytes", vlen);
    *index = store_be64_get(v);
    return NAOS_OK;
}

int
store_applied_set_txn(struct store_txn *t, uint64_t index)
{
    uint64_t old;
    int err = store_applied_get_txn(t, &old);
    if (err != NAOS_OK)
        return err;
    if (index < old)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store: last_applied %llu below stored %llu",
                              (unsigned long long)index,
                              (unsigned long long)old);
    unsigned char b[8];
    store_be64_put(b, index);
    return store_txn_put(t, STORE_META, APPLIED_KEY, strlen(APPLIED_KEY), b,
                         sizeof b, 0);
}

int
store_applied_force_txn(struct store_txn *t, uint64_t index)
{
    unsigned char b[8];
    store_be64_put(b, index);
    return store_txn_put(t, STORE_META, APPLIED_KEY, strlen(APPLIED_KEY), b,
                         sizeof b, 0);
}

static int
applied_read_fn(struct store_txn *t, void *arg)
{
    return store_applied_get_txn(t, arg);
}

int
store_applied_get(struct store *s, uint64_t *index)
{
    return store_read(s, applied_read_fn, index);
}

static int
ident_set_cluster_fn(struct store_txn *t, void *arg)
{
    uint64_t cluster_id = *(const uint64_t *)arg;
    struct store_identity cur;
    int err = ident_get_txn(t, &cur);
    if (err != NAOS_OK)
        return err;
    Naos__V1__IdentityRecord r = NAOS__V1__IDENTITY_RECORD__INIT;
    r.node_id = cur.node_id;
    r.cluster_id = cluster_id;
    r.created_at_ms = cur.created_at_ms;
    r.cluster_fixed = true;
    return store_pb_put(t, STORE_IDENTITY, IDENTITY_KEY, strlen(IDENTITY_KEY),
                        &r.base, 0);
}

int
store_identity_set_cluster(struct store *s, uint64_t cluster_id)
{
    if (cluster_id == 0)
        return store_fail(s, NAOS_EINVAL, "store: cluster id 0");
    int err = store_write(s, ident_set_cluster_fn, &cluster_id);
    if (err == NAOS_ENOTFOUND)
        store_fail(s, err, "store %s: no identity yet", store_dir(s));
    return err;
}

/* ---- replay marks (state.h) ------------------------------------------ */

#define REPLAY_PREFIX "replay/"
#define REPLAY_PREFIX_LEN 7
#define REPLAY_KEY_LEN (REPLAY_PREFIX_LEN + 8)
#define REPLAY_VAL_LEN 16

static void
replay_key(unsigned char k[REPLAY_KEY_LEN], uint64_t sender)
{
    memcpy(k, REPLAY_PREFIX, REPLAY_PREFIX_LEN);
    store_be64_put(k + REPLAY_PREFIX_LEN, sender);
}

struct replay_write {
    const struct store_replay_mark *marks;
    size_t n;
};

static int
replay_write_fn(struct store_txn *t, void *arg)
{
    const struct replay_write *w = arg;
    for (size_t i = 0; i < w->n; i++) {
        const struct store_replay_mark *m = &w->marks[i];
        unsigned char k[REPLAY_KEY_LEN];
        replay_key(k, m->sender);
        int err;
        if (m->gone) {
            err = store_txn_del(t, STORE_META, k, sizeof k);
            if (err == NAOS_ENOTFOUND)
                err = NAOS_OK;
        } else {
            unsigned char v[REPLAY_VAL_LEN];
            store_be64_put(v, m->top);
            store_be64_put(v + 8, (uint64_t)m->last_ms);
            err = store_txn_put(t, STORE_META, k, sizeof k, v, sizeof v, 0);
        }
        if (err != NAOS_OK)
            return err;
    }
    return NAOS_OK;
}

int
store_replay_marks_write(struct store *s,
                         const struct store_replay_mark *marks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (marks[i].sender == 0)
            return store_fail(s, NAOS_EINVAL, "store: replay mark of "
                              "sender 0");
    if (n == 0)
        return NAOS_OK;
    struct replay_write w = {marks, n};
    return store_write(s, replay_write_fn, &w);
}

int
store_replay_marks_put(struct store_txn *t,
                       const struct store_replay_mark *marks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (marks[i].sender == 0)
            return store_txn_fail(t, NAOS_EINVAL, "store: replay mark of "
                                  "sender 0");
    struct replay_write w = {marks, n};
    return replay_write_fn(t, &w);
}

struct replay_list {
    struct store_replay_mark *v;
    size_t n, cap;
    int err;
};

static int
replay_list_one(const void *key, size_t klen, const void *val, size_t vlen,
                void *arg)
{
    struct replay_list *l = arg;
    if (klen < REPLAY_PREFIX_LEN ||
        memcmp(key, REPLAY_PREFIX, REPLAY_PREFIX_LEN) != 0)
        return STORE_SCAN_STOP; /* past the prefix */
    if (klen != REPLAY_KEY_LEN || vlen != REPLAY_VAL_LEN)
        return NAOS_OK;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        struct store_replay_mark *v = naos_realloc(l->v, ncap * sizeof *v);
        if (v == NULL)
            return NAOS_ENOMEM;
        l->v = v;
        l->cap = ncap;
    }
    struct store_replay_mark *m = &l->v[l->n++];
    m->sender = store_be64_get((const unsigned char *)key + REPLAY_PREFIX_LEN);
    m->top = store_be64_get(val);
    m->last_ms = (int64_t)store_be64_get((const unsigned char *)val + 8);
    m->gone = false;
    return NAOS_OK;
}

static int
replay_list_fn(struct store_txn *t, void *arg)
{
    struct replay_list *l = arg;
    l->n = 0; /* a read body runs once, but stay safe */
    return store_txn_scan(t, STORE_META, REPLAY_PREFIX, REPLAY_PREFIX_LEN,
                          replay_list_one, l);
}

int
store_replay_marks_list(struct store *s, struct store_replay_mark **out,
                        size_t *n)
{
    struct replay_list l = {NULL, 0, 0, NAOS_OK};
    int err = store_read(s, replay_list_fn, &l);
    if (err != NAOS_OK) {
        naos_free(l.v);
        return err;
    }
    *out = l.v;
    *n = l.n;
    return NAOS_OK;
}
