/* SPDX-License-Identifier: Apache-2.0 */
/* cmd.c: command log entries (cmd.h). */
#include "node/cmd/cmd.h"

#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/spec/spec.h"
#include "proto/spec_pb.h"
#include "store/state.h"

void
cmd_init(Naos__V1__Command *c, uint64_t client_id, uint64_t seq,
         int64_t at_ms)
{
    naos__v1__command__init(c);
    c->version = COMMAND_VERSION;
    c->client_id = client_id;
    c->seq = seq;
    c->at_ms = at_ms;
}

const char *
cmd_type_name(const Naos__V1__Command *c)
{
    switch (c->cmd_case) {
    case NAOS__V1__COMMAND__CMD_DEPLOY: return "deploy";
    case NAOS__V1__COMMAND__CMD_STOP: return "stop";
    case NAOS__V1__COMMAND__CMD_START: return "start";
    case NAOS__V1__COMMAND__CMD_RESTART: return "restart";
    case NAOS__V1__COMMAND__CMD_REMOVE: return "rm";
    case NAOS__V1__COMMAND__CMD_FAIL: return "fail";
    case NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE: return "checkpoint save";
    case NAOS__V1__COMMAND__CMD_NOOP: return "noop";
    case NAOS__V1__COMMAND__CMD_MIGRATE: return "migrate";
    case NAOS__V1__COMMAND__CMD_DRAIN:
        return c->drain && !c->drain->drain ? "undrain" : "drain";
    case NAOS__V1__COMMAND__CMD_RELEASE: return "release";
    default: return "unknown";
    }
}

static const char *
str_or_empty(const char *s)
{
    return s ? s : "";
}

const char *
cmd_target(const Naos__V1__Command *c)
{
    switch (c->cmd_case) {
    case NAOS__V1__COMMAND__CMD_DEPLOY:
        return c->deploy && c->deploy->spec ? str_or_empty(c->deploy->spec->id)
                                            : "";
    case NAOS__V1__COMMAND__CMD_STOP:
        return c->stop ? str_or_empty(c->stop->name) : "";
    case NAOS__V1__COMMAND__CMD_START:
        return c->start ? str_or_empty(c->start->name) : "";
    case NAOS__V1__COMMAND__CMD_RESTART:
        return c->restart ? str_or_empty(c->restart->name) : "";
    case NAOS__V1__COMMAND__CMD_REMOVE:
        return c->remove ? str_or_empty(c->remove->name) : "";
    case NAOS__V1__COMMAND__CMD_FAIL:
        return c->fail ? str_or_empty(c->fail->name) : "";
    case NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE:
        return c->checkpoint_save ? str_or_empty(c->checkpoint_save->path)
                                  : "";
    case NAOS__V1__COMMAND__CMD_MIGRATE:
        return c->migrate ? str_or_empty(c->migrate->name) : "";
    case NAOS__V1__COMMAND__CMD_RELEASE:
        return c->release ? str_or_empty(c->release->name) : "";
    default:
        return ""; /* drain: of a node, not a deployment */
    }
}

bool
cmd_is_path(const Naos__V1__Command *c)
{
    return (c->cmd_case == NAOS__V1__COMMAND__CMD_STOP ||
            c->cmd_case == NAOS__V1__COMMAND__CMD_START ||
            c->cmd_case == NAOS__V1__COMMAND__CMD_RESTART) &&
           strchr(cmd_target(c), '/') != NULL;
}

int
cmd_deploy_spec(const Naos__V1__NodeSpec *req, Naos__V1__NodeSpec **out,
                char *err, size_t errlen)
{
    if (req == NULL) {
        snprintf(err, errlen, "no spec");
        return NAOS_EINVAL;
    }
    struct spec_node spec = {0};
    int rc = spec_pb_to_spec(req, &spec, err, errlen);
    if (rc == NAOS_OK)
        rc = spec_validate(&spec, err, errlen);
    if (rc == NAOS_OK)
        rc = spec_pb_from_spec(&spec, out);
    spec_node_fini(&spec);
    if (rc == NAOS_ETOOBIG)
        rc = NAOS_EINVAL;
    if (rc != NAOS_OK && rc != NAOS_ENOMEM && err[0] == '\0')
        snprintf(err, errlen, "%s", naos_strerror(rc));
    return rc;
}

bool
cmd_path_is_valid(const char *p, bool allow_slash)
{
    if (p == NULL || p[0] == '\0' || strlen(p) > STORE_MAX_KEY)
        return false;
    char id[SPEC_MAX_ID_LEN + 1];
    unsigned depth = 0;
    for (const char *s = p;;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len > SPEC_MAX_ID_LEN || ++depth > SPEC_MAX_DEPTH + 1)
            return false;
        memcpy(id, s, len);
        id[len] = '\0';
        if (!spec_id_is_valid(id))
            return false;
        if (e == NULL)
            return true;
        if (!allow_slash)
            return false;
        s = e + 1;
    }
}

static int
check_name(const Naos__V1__NameCommand *nc, bool allow_path, const char *what,
           char *err, size_t errlen)
{
    if (nc == NULL || !cmd_path_is_valid(nc->name, allow_path)) {
        snprintf(err, errlen, "%s: %s is not a %s", what,
                 nc && nc->name ? nc->name : "(none)",
                 allow_path ? "deployment name or path" : "deployment name");
        return NAOS_EINVAL;
    }
    return NAOS_OK;
}

int
cmd_validate(const Naos__V1__Command *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (c->version == 0 || c->version > COMMAND_VERSION) {
        snprintf(err, errlen, "entry version %u is not one this naos-node "
                 "knows (at most %u): upgrade it", c->version,
                 COMMAND_VERSION);
        return NAOS_EINVAL;
    }
    switch (c->cmd_case) {
    case NAOS__V1__COMMAND__CMD_DEPLOY: {
        if (c->deploy == NULL || c->deploy->spec == NULL) {
            snprintf(err, errlen, "deploy: no spec");
            return NAOS_EINVAL;
        }
        if (c->deploy->node_id == 0) {
            snprintf(err, errlen, "deploy: no node to place it on");
            return NAOS_EINVAL;
        }
        struct spec_node spec = {0};
        char why[512] = "";
        int rc = spec_pb_to_spec(c->deploy->spec, &spec, why, sizeof why);
        if (rc == NAOS_OK)
            rc = spec_validate(&spec, why, sizeof why);
        spec_node_fini(&spec);
        if (rc == NAOS_ENOMEM)
            return rc;
        if (rc != NAOS_OK) {
            snprintf(err, errlen, "deploy: invalid spec: %s", why);
            return NAOS_EINVAL;
        }
        return NAOS_OK;
    }
    case NAOS__V1__COMMAND__CMD_STOP:
        return check_name(c->stop, true, "stop", err, errlen);
    case NAOS__V1__COMMAND__CMD_START:
        return check_name(c->start, true, "start", err, errlen);
    case NAOS__V1__COMMAND__CMD_RESTART:
        return check_name(c->restart, true, "restart", err, errlen);
    case NAOS__V1__COMMAND__CMD_REMOVE:
        return check_name(c->remove, false, "rm", err, errlen);
    case NAOS__V1__COMMAND__CMD_FAIL:
        if (c->fail == NULL || !cmd_path_is_valid(c->fail->name, false)) {
            snprintf(err, errlen, "fail: no deployment name");
            return NAOS_EINVAL;
        }
        return NAOS_OK;
    case NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE: {
        const Naos__V1__CheckpointSaveCommand *s = c->checkpoint_save;
        if (s == NULL || !cmd_path_is_valid(s->path, true)) {
            snprintf(err, errlen, "checkpoint save: %s is not an agent path",
                     s && s->path ? s->path : "(none)");
            return NAOS_EINVAL;
        }
        if (s->data.len > STORE_CKPT_MAX) {
            snprintf(err, errlen, "checkpoint save: %zu bytes for %s, over "
                     "the limit of %u", s->data.len, s->path,
                     STORE_CKPT_MAX);
            return NAOS_EINVAL;
        }
        if (s->n_aliases > SPEC_MAX_DEPTH) {
            snprintf(err, errlen, "checkpoint save: %zu aliases (at most %d)",
                     s->n_aliases, SPEC_MAX_DEPTH);
            return NAOS_EINVAL;
        }
        for (size_t i = 0; i < s->n_aliases; i++)
            if (!cmd_path_is_valid(s->aliases[i], true)) {
                snprintf(err, errlen, "checkpoint save: alias %s is not a "
                         "path", s->aliases[i] ? s->aliases[i] : "(none)");
                return NAOS_EINVAL;
            }
        return NAOS_OK;
    }
    case NAOS__V1__COMMAND__CMD_MIGRATE: {
        const Naos__V1__MigrateCommand *m = c->migrate;
        if (m == NULL || !cmd_path_is_valid(m->name, false)) {
            snprintf(err, errlen, "migrate: no deployment name");
            return NAOS_EINVAL;
        }
        if (m->from_epoch == 0 || m->to_node == 0) {
            snprintf(err, errlen, "migrate %s: no placement to move from, "
                     "or no node to move to", m->name);
            return NAOS_EINVAL;
        }
        bool lost = m->reason != NULL &&
                    (strcmp(m->reason, "node-lost") == 0 ||
                     strcmp(m->reason, "drained") == 0);
        if (!lost && (m->reason == NULL || strcmp(m->reason, "migrated") != 0)) {
            snprintf(err, errlen, "migrate %s: reason \"%.32s\" is not one "
                     "this naos-node knows (migrated, node-lost, drained): "
                     "upgrade it", m->name, m->reason ? m->reason : "");
            return NAOS_EINVAL;
        }
        if (lost && !m->uncounted) {
            snprintf(err, errlen, "migrate %s: a move off a lost or drained "
                     "node never counts against the deployment's limits",
                     m->name);
            return NAOS_EINVAL;
        }
        return NAOS_OK;
    }
    case NAOS__V1__COMMAND__CMD_DRAIN:
        if (c->drain == NULL || c->drain->node_id == 0) {
            snprintf(err, errlen, "drain: no node");
            return NAOS_EINVAL;
        }
        return NAOS_OK;
    case NAOS__V1__COMMAND__CMD_RELEASE: {
        const Naos__V1__ReleaseCommand *r = c->release;
        if (r == NULL || !cmd_path_is_valid(r->name, false)) {
            snprintf(err, errlen, "release: no deployment name");
            return NAOS_EINVAL;
        }
        if (r->epoch == 0 || r->node_id == 0) {
            snprintf(err, errlen, "release %s: no placement or no node",
                     r->name);
            return NAOS_EINVAL;
        }
        return NAOS_OK;
    }
    case NAOS__V1__COMMAND__CMD_NOOP:
        return NAOS_OK;
    default:
        snprintf(err, errlen, "entry of an unknown type (field %d): written "
                 "by a newer naos-node; upgrade this one", (int)c->cmd_case);
        return NAOS_EINVAL;
    }
}

int
cmd_pack(const Naos__V1__Command *c, uint8_t **out, size_t *len, char *err,
         size_t errlen)
{
    if (c->version != COMMAND_VERSION ||
        c->cmd_case == NAOS__V1__COMMAND__CMD__NOT_SET) {
        snprintf(err, errlen, "command without a type or of version %u",
                 c->version);
        return NAOS_EINVAL;
    }
    size_t size = naos__v1__command__get_packed_size(c);
    if (size > CMD_MAX_ENTRY) {
        snprintf(err, errlen, "%s command of %zu bytes is over the limit of "
                 "%u bytes (one log entry): split it into several "
                 "deployments, or save less", cmd_type_name(c), size,
                 CMD_MAX_ENTRY);
        return NAOS_ETOOBIG;
    }
    uint8_t *buf = naos_alloc(size ? size : 1);
    if (buf == NULL)
        return NAOS_ENOMEM;
    naos__v1__command__pack(c, buf);
    *out = buf;
    *len = size;
    return NAOS_OK;
}

int
cmd_unpack(const void *data, size_t len, Naos__V1__Command **out, char *err,
           size_t errlen)
{
    if (len > CMD_MAX_ENTRY) {
        snprintf(err, errlen, "entry of %zu bytes is over the limit of %u",
                 len, CMD_MAX_ENTRY);
        return NAOS_EPROTO;
    }
    Naos__V1__Command *c =
        naos__v1__command__unpack(&spec_pb_allocator, len, data);
    if (c == NULL) {
        snprintf(err, errlen, "entry of %zu bytes does not decode as a "
                 "naos.v1.Command", len);
        return NAOS_EPROTO;
    }
    if (!spec_pb_unpacked_intact(&c->base, len)) {
        cmd_free(c);
        snprintf(err, errlen, "entry holds a string cut at a NUL byte");
        return NAOS_EPROTO;
    }
    if (c->version > COMMAND_VERSION ||
        c->cmd_case == NAOS__V1__COMMAND__CMD__NOT_SET) {
        snprintf(err, errlen, "entry of version %u%s: written by a newer "
                 "naos-node (this one knows up to version %u); upgrade "
                 "this node", c->version,
                 c->cmd_case == NAOS__V1__COMMAND__CMD__NOT_SET
                     ? " and of a type unknown here" : "",
                 COMMAND_VERSION);
        cmd_free(c);
        return NAOS_EINVAL;
    }
    *out = c;
    return NAOS_OK;
}

void
cmd_free(Naos__V1__Command *c)
{
    if (c)
        naos__v1__command__free_unpacked(c, &spec_pb_allocator);
}
