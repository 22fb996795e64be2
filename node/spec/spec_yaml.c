/* SPDX-License-Identifier: Apache-2.0 */
/* spec_yaml.c: the YAML front end of the spec module (libyaml event API).
 *
 * The parser pulls libyaml events and builds the spec tree directly, so it
 * never holds a document tree, never follows aliases, and knows the exact
 * position of every value. Every error is "FILE:LINE:COL: FIELD: what",
 * with LINE and COL 1-based from the start of the offending event.
 *
 * Format choices (see spec_yaml.h for the document shape):
 * - Durations are naos_duration_parse strings ("500ms", "30s", "5m", "1h",
 *   "1.5s") or a bare number, which means seconds ("30" = 30 s, also for
 *   shutdown). `window` must come out as whole seconds, at least 1.
 * - `backoff: {min: 1s, max: 30s}` (both keys required), or a single
 *   duration `backoff: 5s`, which means a fixed delay: min = max = 5 s.
 * - `command: [argv...]` (flow or block list of strings), or a string,
 *   which becomes ["/bin/sh", "-c", string].
 * - `env: {KEY: value}` or `env: ["KEY=value"]`; a null value is an error
 *   (write "" for an empty value), and a variable may be set only once.
 * - A child with `supervisor:` or `children:` is a supervisor; it may have
 *   `restart`, `backoff` and `shutdown: infinity`, but no worker fields.
 * - `replicas: N` (1..SPEC_MAX_REPLICAS) is required on, and only allowed
 *   on, a node whose supervisor strategy is simple-one-for-one.
 * - Top level: `name` plus `children` (the root supervisor), or `name` plus
 *   `command` (a single worker): the root is then a supervisor (defaults
 *   plus the optional `supervisor:` and `replicas:`) with one worker child
 *   whose id is the name and which takes all the worker fields.
 * - Rejected: unknown and duplicate keys, wrong types, null where a value
 *   is needed, negative numbers, integer overflow, strings with NUL bytes,
 *   anchors and aliases (no "billion laughs"), tags other than the
 *   standard !!str/!!seq/!!map, empty input, more than one document, and
 *   input over SPEC_YAML_MAX_BYTES.
 * After parsing, the tree goes through spec_validate; its message is given
 * the position of the node (or child id) it names.
 *
 * libyaml allocates with malloc; that memory never outlives a call. */
#include "node/spec/spec_yaml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

#define SPEC_YAML_MAX_BYTES (1024 * 1024)

struct ymark {
    unsigned line; /* 1-based */
    unsigned col;  /* 1-based */
};

/* Where each node of the tree was written, in pre-order (the order nodes
 * are started in the text is the pre-order of the finished tree). */
struct ypos {
    struct ymark node; /* the node's mapping */
    struct ymark id;   /* its id (or name) value */
};

struct yp {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    bool parser_open; /* yaml_parser_initialize succeeded */
    const char *fname;
    const char *text;
    size_t len;
    char *errbuf;
    size_t errlen;
    size_t nodes; /* nodes started so far, root included */
    struct ypos *pos;
    size_t npos;
    size_t cappos;
    const char *agent; /* project file: the agent being read (its key) */
};

enum ykey {
    K_NAME,
    K_ID,
    K_SUPERVISOR,
    K_CHILDREN,
    K_COMMAND,
    K_RESTART,
    K_SHUTDOWN,
    K_ENV,
    K_CWD,
    K_READY,
    K_START_TIMEOUT,
    K_WATCHDOG,
    K_MAX_RUNTIME,
    K_BACKOFF,
    K_REPLICAS,
    K_OUTPUT,
    K_CONTROL,
    K_PLACEMENT,
    K_MIGRATION,
    K_ON_PARTITION,
    K__COUNT,
};

static const char *const key_names[K__COUNT] = {
    [K_NAME] = "name",
    [K_ID] = "id",
    [K_SUPERVISOR] = "supervisor",
    [K_CHILDREN] = "children",
    [K_COMMAND] = "command",
    [K_RESTART] = "restart",
    [K_SHUTDOWN] = "shutdown",
    [K_ENV] = "env",
    [K_CWD] = "cwd",
    [K_READY] = "ready",
    [K_START_TIMEOUT] = "start_timeout",
    [K_WATCHDOG] = "watchdog",
    [K_MAX_RUNTIME] = "max_runtime",
    [K_BACKOFF] = "backoff",
    [K_REPLICAS] = "replicas",
    [K_OUTPUT] = "output",
    [K_CONTROL] = "control",
    [K_PLACEMENT] = "placement",
    [K_MIGRATION] = "migration",
    [K_ON_PARTITION] = "on_partition",
};

#define BIT(k) (1u << (k))

static struct ymark
mk(yaml_mark_t m)
{
    return (struct ymark){(unsigned)m.line + 1, (unsigned)m.column + 1};
}

static struct ymark
evmark(const struct yp *yp)
{
    return mk(yp->ev.start_mark);
}

/* offset_mark turns a byte offset of the input into a line and column. */
static struct ymark
offset_mark(const struct yp *yp, size_t off)
{
    struct ymark m = {1, 1};
    if (off > yp->len)
        off = yp->len;
    for (size_t i = 0; i < off; i++) {
        if (yp->text[i] == '\n') {
            m.line++;
            m.col = 1;
        } else {
            m.col++;
        }
    }
    return m;
}

static void
vput(struct yp *yp, struct ymark m, const char *field, const char *fmt,
     va_list ap)
{
    if (yp->errbuf == NULL || yp->errlen == 0)
        return;
    int n = snprintf(yp->errbuf, yp->errlen, "%s:%u:%u: %s: ", yp->fname,
                     m.line, m.col, field);
    if (n >= 0 && (size_t)n < yp->errlen)
        vsnprintf(yp->errbuf + n, yp->errlen - (size_t)n, fmt, ap);
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(struct yp *yp, struct ymark m, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(yp, m, field, fmt, ap);
    va_end(ap);
    return NAOS_EINVAL;
}

static int
oom(struct yp *yp)
{
    if (yp->errbuf != NULL && yp->errlen > 0)
        snprintf(yp->errbuf, yp->errlen, "%s: out of memory", yp->fname);
    return NAOS_ENOMEM;
}

/* quote makes s printable and short for a message: at most 40 bytes,
 * control bytes shown as '?', "..." when cut. */
struct qbuf {
    char s[48];
};

static const char *
quote(struct qbuf *b, const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0' && n < 40; n++)
        b->s[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    bool cut = s[n] != '\0';
    /* Do not end in the middle of a UTF-8 sequence. */
    while (cut && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    if (cut)
        memcpy(b->s + n, "...", 3), n += 3;
    b->s[n] = '\0';
    return b->s;
}

static const char *
scalar(const struct yp *yp)
{
    return (const char *)yp->ev.data.scalar.value;
}

static bool
is_null(const struct yp *yp)
{
    if (yp->ev.type != YAML_SCALAR_EVENT)
        return false;
    if (yp->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
        !yp->ev.data.scalar.plain_implicit)
        return false;
    const char *s = scalar(yp);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *
kind(const struct yp *yp)
{
    switch (yp->ev.type) {
    case YAML_SCALAR_EVENT:
        return is_null(yp) ? "null" : "a scalar";
    case YAML_SEQUENCE_START_EVENT:
        return "a sequence";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    default:
        return "nothing";
    }
}

static int
syntax_error(struct yp *yp)
{
    yaml_parser_t *p = &yp->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return oom(yp);
    struct ymark m = p->error == YAML_READER_ERROR
                         ? offset_mark(yp, p->problem_offset)
                         : mk(p->problem_mark);
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context != NULL)
        return fail(yp, m, "yaml", "%s (%s that started at %u:%u)", problem,
                    p->context, mk(p->context_mark).line,
                    mk(p->context_mark).col);
    return fail(yp, m, "yaml", "%s", problem);
}

/* next deletes the current event and pulls the next one, refusing aliases,
 * anchors and non-standard tags wherever they appear. */
static int
next(struct yp *yp)
{
    if (yp->have_ev) {
        yaml_event_delete(&yp->ev);
        yp->have_ev = false;
    }
    if (!yaml_parser_parse(&yp->parser, &yp->ev))
        return syntax_error(yp);
    yp->have_ev = true;

    struct qbuf q;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    const char *want = NULL;
    switch (yp->ev.type) {
    case YAML_ALIAS_EVENT:
        return fail(yp, evmark(yp), "yaml",
                    "alias *%s: aliases are not allowed",
                    quote(&q, (const char *)yp->ev.data.alias.anchor));
    case YAML_SCALAR_EVENT:
        anchor = yp->ev.data.scalar.anchor;
        tag = yp->ev.data.scalar.tag;
        want = YAML_STR_TAG;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = yp->ev.data.sequence_start.anchor;
        tag = yp->ev.data.sequence_start.tag;
        want = YAML_SEQ_TAG;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = yp->ev.data.mapping_start.anchor;
        tag = yp->ev.data.mapping_start.tag;
        want = YAML_MAP_TAG;
        break;
    default:
        return NAOS_OK;
    }
    if (anchor != NULL)
        return fail(yp, evmark(yp), "yaml",
                    "anchor &%s: anchors are not allowed",
                    quote(&q, (const char *)anchor));
    if (tag != NULL && strcmp((const char *)tag, "!") != 0 &&
        strcmp((const char *)tag, want) != 0)
        return fail(yp, evmark(yp), "yaml", "tag %s is not supported",
                    quote(&q, (const char *)tag));
    return NAOS_OK;
}

/* want_string checks that the current event is a non-null scalar without
 * NUL bytes; *out borrows it until the next call of next(). */
static int
want_string(struct yp *yp, const char *field, const char *what,
            const char **out)
{
    if (yp->ev.type != YAML_SCALAR_EVENT || is_null(yp))
        return fail(yp, evmark(yp), field, "expected %s, got %s", what,
                    kind(yp));
    if (strlen(scalar(yp)) != yp->ev.data.scalar.length)
        return fail(yp, evmark(yp), field, "must not contain a NUL byte");
    *out = scalar(yp);
    return NAOS_OK;
}

static int
parse_duration(struct yp *yp, const char *field, naos_duration *out)
{
    const char *s = NULL;
    int rv = want_string(yp, field, "a duration like 30s", &s);
    if (rv != NAOS_OK)
        return rv;
    naos_duration d;
    /* spec_shutdown_parse also takes kill/infinity (negative): not here. */
    if (!spec_shutdown_parse(s, &d) || d < 0) {
        struct qbuf q;
        return fail(yp, evmark(yp), field,
                    "invalid duration \"%s\" (expected e.g. 500ms, 30s, 5m, "
                    "1h)",
                    quote(&q, s));
    }
    *out = d;
    return NAOS_OK;
}

static int
parse_uint(struct yp *yp, const char *field, uint64_t min, uint64_t max,
           uint64_t *out)
{
    const char *s = NULL;
    int rv = want_string(yp, field, "a whole number", &s);
    if (rv != NAOS_OK)
        return rv;
    struct qbuf q;
    if (s[0] == '-')
        return fail(yp, evmark(yp), field,
                    "must not be negative (got \"%s\")", quote(&q, s));
    uint64_t v = 0;
    for (const char *p = s;; p++) {
        if (*p < '0' || *p > '9' || (p == s && *p == '\0'))
            return fail(yp, evmark(yp), field,
                        "expected a whole number, got \"%s\"", quote(&q, s));
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return fail(yp, evmark(yp), field,
                        "is too large (at most %llu)", (unsigned long long)max);
        if (p[1] == '\0')
            break;
    }
    if (v < min)
        return fail(yp, evmark(yp), field, "must be at least %llu",
                    (unsigned long long)min);
    *out = v;
    return NAOS_OK;
}

/* strv_push appends a copy of s to a NULL-terminated vector, keeping it
 * NULL-terminated (and so safe for spec_node_fini) at every step. */
static int
strv_push(char ***v, size_t *n, size_t *cap, char *s_owned)
{
    if (*n + 1 >= *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        char **nv = naos_realloc(*v, ncap * sizeof(char *));
        if (nv == NULL) {
            naos_free(s_owned);
            return NAOS_ENOMEM;
        }
        if (*v == NULL)
            nv[0] = NULL;
        *v = nv;
        *cap = ncap;
    }
    (*v)[*n] = s_owned;
    (*n)++;
    (*v)[*n] = NULL;
    return NAOS_OK;
}

static int
strv_push_copy(char ***v, size_t *n, size_t *cap, const char *s)
{
    char *d = naos_strdup(s);
    if (d == NULL)
        return NAOS_ENOMEM;
    return strv_push(v, n, cap, d);
}

static int
pos_add(struct yp *yp, struct ymark m, size_t *slot)
{
    if (yp->npos == yp->cappos) {
        size_t ncap = yp->cappos ? yp->cappos * 2 : 16;
        struct ypos *np = naos_realloc(yp->pos, ncap * sizeof *np);
        if (np == NULL)
            return oom(yp);
        yp->pos = np;
        yp->cappos = ncap;
    }
    yp->pos[yp->npos] = (struct ypos){m, m};
    *slot = yp->npos++;
    return NAOS_OK;
}

static int
parse_command(struct yp *yp, struct spec_node *n)
{
    size_t cap = 0;
    int rv;
    struct ymark start = evmark(yp);
    if (yp->ev.type == YAML_SCALAR_EVENT && !is_null(yp)) {
        const char *s = NULL;
        if ((rv = want_string(yp, "command", "a string", &s)) != NAOS_OK)
            return rv;
        if (s[0] == '\0')
            return fail(yp, start, "command", "must not be empty");
        if (strv_push_copy(&n->argv, &n->argc, &cap, "/bin/sh") != NAOS_OK ||
            strv_push_copy(&n->argv, &n->argc, &cap, "-c") != NAOS_OK ||
            strv_push_copy(&n->argv, &n->argc, &cap, s) != NAOS_OK)
            return oom(yp);
        return NAOS_OK;
    }
    if (yp->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail(yp, start, "command",
                    "expected a list of strings or a string, got %s",
                    kind(yp));
    for (size_t i = 0;; i++) {
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (yp->ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        char field[40];
        snprintf(field, sizeof field, "command[%zu]", i);
        const char *s = NULL;
        if ((rv = want_string(yp, field, "a string", &s)) != NAOS_OK)
            return rv;
        if (i == 0 && s[0] == '\0')
            return fail(yp, evmark(yp), field,
                        "the program must not be empty");
        if (strv_push_copy(&n->argv, &n->argc, &cap, s) != NAOS_OK)
            return oom(yp);
    }
    if (n->argc == 0)
        return fail(yp, start, "command", "must not be empty");
    return NAOS_OK;
}

/* envref_cmp orders "KEY=..." entries by key, then by position. */
struct envref {
    const char *s;
    size_t klen;
    size_t idx;
};

static int
envref_cmp(const void *a, const void *b)
{
    const struct envref *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->s, y->s, n);
    if (c == 0 && x->klen != y->klen)
        c = x->klen < y->klen ? -1 : 1;
    if (c != 0)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool
same_key(const struct envref *a, const struct envref *b)
{
    return a->klen == b->klen && memcmp(a->s, b->s, a->klen) == 0;
}

/* env_dups reports a variable set twice, at its second setting. After
 * sorting by (key, position) the second entry of each group of equal keys
 * is that key's first repeat; the earliest of those is reported. */
static int
env_dups(struct yp *yp, const struct spec_node *n, const struct ymark *marks)
{
    if (n->envc < 2)
        return NAOS_OK;
    struct envref *r = naos_alloc(n->envc * sizeof *r);
    if (r == NULL)
        return oom(yp);
    for (size_t i = 0; i < n->envc; i++)
        r[i] = (struct envref){n->env[i], strcspn(n->env[i], "="), i};
    qsort(r, n->envc, sizeof *r, envref_cmp);
    size_t best = n->envc, first = 0;
    for (size_t i = 1; i < n->envc; i++) {
        if (same_key(&r[i], &r[i - 1]) &&
            (i < 2 || !same_key(&r[i], &r[i - 2])) && r[i].idx < best) {
            best = r[i].idx;
            first = r[i - 1].idx;
        }
    }
    naos_free(r);
    if (best == n->envc)
        return NAOS_OK;
    const char *s = n->env[best];
    size_t klen = strcspn(s, "=");
    char key[48], field[96];
    struct qbuf q;
    snprintf(key, sizeof key, "%.*s", (int)(klen < 40 ? klen : 40), s);
    snprintf(field, sizeof field, "env.%s", quote(&q, key));
    return fail(yp, marks[best], field,
                "duplicate variable (first set at line %u)",
                marks[first].line);
}

static int
parse_env(struct yp *yp, struct spec_node *n)
{
    size_t cap = 0, mcap = 0;
    struct ymark *marks = NULL;
    int rv = NAOS_OK;
    struct qbuf q;
    char field[96];
    bool map = yp->ev.type == YAML_MAPPING_START_EVENT;
    if (!map && yp->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail(yp, evmark(yp), "env",
                    "expected a mapping (KEY: value) or a list of "
                    "\"KEY=value\", got %s",
                    kind(yp));
    for (size_t i = 0;; i++) {
        if ((rv = next(yp)) != NAOS_OK)
            goto out;
        if (yp->ev.type ==
            (map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT))
            break;
        struct ymark m = evmark(yp);
        char *entry;
        const char *s = NULL;
        if (map) {
            if ((rv = want_string(yp, "env", "a variable name", &s)) !=
                NAOS_OK)
                goto out;
            snprintf(field, sizeof field, "env.%s", quote(&q, s));
            if (s[0] == '\0' || strchr(s, '=') != NULL) {
                rv = fail(yp, m, field,
                          "invalid variable name (must be non-empty, "
                          "without '=')");
                goto out;
            }
            size_t klen = strlen(s);
            char *key = naos_alloc(klen + 1);
            if (key == NULL) {
                rv = oom(yp);
                goto out;
            }
            memcpy(key, s, klen + 1);
            if ((rv = next(yp)) != NAOS_OK) {
                naos_free(key);
                goto out;
            }
            if ((rv = want_string(yp, field,
                                  "a value (write \"\" for an empty one)",
                                  &s)) != NAOS_OK) {
                naos_free(key);
                goto out;
            }
            size_t vlen = strlen(s);
            entry = naos_alloc(klen + vlen + 2);
            if (entry == NULL) {
                naos_free(key);
                rv = oom(yp);
                goto out;
            }
            memcpy(entry, key, klen);
            entry[klen] = '=';
            memcpy(entry + klen + 1, s, vlen + 1);
            naos_free(key);
        } else {
            snprintf(field, sizeof field, "env[%zu]", i);
            if ((rv = want_string(yp, field, "a \"KEY=value\" string",
                                  &s)) != NAOS_OK)
                goto out;
            const char *eq = strchr(s, '=');
            if (eq == NULL || eq == s) {
                rv = fail(yp, m, field,
                          "\"%s\" is not KEY=value (with a non-empty KEY)",
                          quote(&q, s));
                goto out;
            }
            if ((entry = naos_strdup(s)) == NULL) {
                rv = oom(yp);
                goto out;
            }
        }
        if (n->envc == mcap) {
            size_t ncap = mcap ? mcap * 2 : 8;
            struct ymark *nm = naos_realloc(marks, ncap * sizeof *nm);
            if (nm == NULL) {
                naos_free(entry);
                rv = oom(yp);
                goto out;
            }
            marks = nm;
            mcap = ncap;
        }
        marks[n->envc] = m;
        if (strv_push(&n->env, &n->envc, &cap, entry) != NAOS_OK) {
            rv = oom(yp);
            goto out;
        }
    }
    rv = env_dups(yp, n, marks);
out:
    naos_free(marks);
    return rv;
}

static int
parse_backoff(struct yp *yp, struct spec_node *n)
{
    int rv;
    struct ymark start = evmark(yp);
    if (yp->ev.type == YAML_SCALAR_EVENT) {
        naos_duration d;
        if ((rv = parse_duration(yp, "backoff", &d)) != NAOS_OK)
            return rv;
        n->backoff_min = n->backoff_max = d;
        return NAOS_OK;
    }
    if (yp->ev.type != YAML_MAPPING_START_EVENT)
        return fail(yp, start, "backoff",
                    "expected {min: 1s, max: 30s} or a duration, got %s",
                    kind(yp));
    bool seen_min = false, seen_max = false;
    for (;;) {
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (yp->ev.type == YAML_MAPPING_END_EVENT)
            break;
        const char *k = NULL;
        if ((rv = want_string(yp, "backoff", "a key (min or max)", &k)) !=
            NAOS_OK)
            return rv;
        bool is_min = strcmp(k, "min") == 0;
        struct qbuf q;
        char field[64];
        snprintf(field, sizeof field, "backoff.%s", quote(&q, k));
        if (!is_min && strcmp(k, "max") != 0)
            return fail(yp, evmark(yp), field,
                        "unknown key (expected min or max)");
        bool *seen = is_min ? &seen_min : &seen_max;
        if (*seen)
            return fail(yp, evmark(yp), field, "duplicate key");
        *seen = true;
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if ((rv = parse_duration(yp, is_min ? "backoff.min" : "backoff.max",
                                 is_min ? &n->backoff_min
                                        : &n->backoff_max)) != NAOS_OK)
            return rv;
    }
    if (!seen_min || !seen_max)
        return fail(yp, start, "backoff",
                    "needs both min and max (or a single duration)");
    if (n->backoff_min > n->backoff_max)
        return fail(yp, start, "backoff", "min must not exceed max");
    if ((n->backoff_min == 0) != (n->backoff_max == 0))
        return fail(yp, start, "backoff",
                    "min and max must both be non-zero (or both 0 for no "
                    "backoff)");
    return NAOS_OK;
}

/* parse_require reads `require: {KEY: VALUE, ...}` into s->require
 * (naos_alloc'd, at most SPEC_LABELS_MAX, each within label.h's bounds,
 * no key twice). */
static int
parse_require(struct yp *yp, struct spec_node *s)
{
    int rv;
    struct ymark start = evmark(yp);
    if (yp->ev.type != YAML_MAPPING_START_EVENT)
        return fail(yp, start, "placement.require",
                    "expected {KEY: VALUE, ...}, got %s", kind(yp));
    if (s->require != NULL)
        return fail(yp, start, "placement.require", "duplicate key");
    s->require = naos_alloc(SPEC_LABELS_MAX * sizeof *s->require);
    if (s->require == NULL)
        return oom(yp);
    for (;;) {
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (yp->ev.type == YAML_MAPPING_END_EVENT)
            break;
        struct ymark km = evmark(yp);
        const char *k = NULL;
        if ((rv = want_string(yp, "placement.require", "a label's key",
                              &k)) != NAOS_OK)
            return rv;
        /* k is gone after next(); a longer key is kept long enough to be
         * refused as such */
        char kbuf[SPEC_LABEL_KEY_MAX + 2];
        snprintf(kbuf, sizeof kbuf, "%s", k);
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        const char *v = NULL;
        if ((rv = want_string(yp, "placement.require", "a label's value "
                              "(use '' for an empty one)", &v)) != NAOS_OK)
            return rv;
        char lerr[256];
        struct spec_label one;
        if (spec_label_set(&one, kbuf, strlen(kbuf), v, strlen(v), lerr,
                           sizeof lerr) != NAOS_OK ||
            spec_labels_add(s->require, &s->nrequire, &one, lerr,
                            sizeof lerr) != NAOS_OK)
            return fail(yp, km, "placement.require", "%s", lerr);
    }
    return NAOS_OK;
}

/* parse_placement reads a deployment's `placement: {on: NODE, require:
 * {KEY: VALUE}}` into s->place_on (naos_strdup'd) and s->require. */
static int
parse_placement(struct yp *yp, struct spec_node *s)
{
    int rv;
    struct ymark start = evmark(yp);
    if (yp->ev.type != YAML_MAPPING_START_EVENT)
        return fail(yp, start, "placement",
                    "expected {on: NODE, require: {KEY: VALUE}}, got %s",
                    kind(yp));
    for (;;) {
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (yp->ev.type == YAML_MAPPING_END_EVENT)
            break;
        const char *k = NULL;
        if ((rv = want_string(yp, "placement", "a key (on, require)", &k)) !=
            NAOS_OK)
            return rv;
        struct qbuf q;
        char field[64];
        snprintf(field, sizeof field, "placement.%s", quote(&q, k));
        bool is_on = strcmp(k, "on") == 0;
        if (!is_on && strcmp(k, "require") != 0)
            return fail(yp, evmark(yp), field,
                        "unknown key (expected on or require)");
        if (is_on && s->place_on != NULL)
            return fail(yp, evmark(yp), field, "duplicate key");
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (!is_on) {
            if ((rv = parse_require(yp, s)) != NAOS_OK)
                return rv;
            continue;
        }
        const char *v = NULL;
        if ((rv = want_string(yp, "placement.on", "a node's name", &v)) !=
            NAOS_OK)
            return rv;
        if ((s->place_on = naos_strdup(v)) == NULL)
            return oom(yp);
    }
    if (s->place_on == NULL && s->nrequire == 0)
        return fail(yp, start, "placement",
                    "needs on: NODE or require: {KEY: VALUE}");
    return NAOS_OK;
}

/* parse_migration reads a deployment's `migration: {max: N, window:
 * DURATION}` (either key, not neither) into s->max_migrations and
 * s->migration_window, each refused out of spec.h's bounds where it was
 * written. */
static int
parse_migration(struct yp *yp, struct spec_node *s)
{
    int rv;
    struct ymark start = evmark(yp);
    if (yp->ev.type != YAML_MAPPING_START_EVENT)
        return fail(yp, start, "migration",
                    "expected {max: N, window: DURATION}, got %s", kind(yp));
    bool seen_max = false, seen_window = false;
    for (;;) {
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (yp->ev.type == YAML_MAPPING_END_EVENT)
            break;
        const char *k = NULL;
        if ((rv = want_string(yp, "migration", "a key (max or window)",
                              &k)) != NAOS_OK)
            return rv;
        bool is_max = strcmp(k, "max") == 0;
        struct qbuf q;
        char field[64];
        snprintf(field, sizeof field, "migration.%s", quote(&q, k));
        if (!is_max && strcmp(k, "window") != 0)
            return fail(yp, evmark(yp), field,
                        "unknown key (expected max or window)");
        bool *seen = is_max ? &seen_max : &seen_window;
        if (*seen)
            return fail(yp, evmark(yp), field, "duplicate key");
        *seen = true;
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (is_max) {
            uint64_t u;
            if ((rv = parse_uint(yp, "migration.max", 0, SPEC_MIGRATIONS_MAX,
                                 &u)) != NAOS_OK)
                return rv;
            s->max_migrations = (uint32_t)u;
            continue;
        }
        struct ymark vm = evmark(yp);
        naos_duration d;
        if ((rv = parse_duration(yp, "migration.window", &d)) != NAOS_OK)
            return rv;
        if (d < SPEC_MIGRATION_WINDOW_MIN)
            return fail(yp, vm, "migration.window", "must be at least 1s");
        if (d > SPEC_MIGRATION_WINDOW_MAX)
            return fail(yp, vm, "migration.window",
                        "must be at most 7 days (168h)");
        s->migration_window = d;
    }
    if (!seen_max && !seen_window)
        return fail(yp, start, "migration",
                    "needs max: N or window: DURATION");
    return NAOS_OK;
}

/* parse_supervisor reads `supervisor: {strategy, max_restarts, window}`
 * into the scalar fields of s. */
static int
parse_supervisor(struct yp *yp, struct spec_node *s, struct ymark *strat_mark)
{
    int rv;
    if (yp->ev.type != YAML_MAPPING_START_EVENT)
        return fail(yp, evmark(yp), "supervisor",
                    "expected a mapping {strategy, max_restarts, window}, "
                    "got %s",
                    kind(yp));
    *strat_mark = evmark(yp);
    unsigned seen = 0;
    static const char *const names[] = {"strategy", "max_restarts",
                                        "window"};
    for (;;) {
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (yp->ev.type == YAML_MAPPING_END_EVENT)
            break;
        const char *k = NULL;
        if ((rv = want_string(yp, "supervisor", "a key", &k)) != NAOS_OK)
            return rv;
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(k, names[i]) == 0)
                which = i;
        struct qbuf q;
        char field[64];
        snprintf(field, sizeof field, "supervisor.%s", quote(&q, k));
        if (which < 0)
            return fail(yp, evmark(yp), field,
                        "unknown key (expected strategy, max_restarts or "
                        "window)");
        if (seen & BIT(which))
            return fail(yp, evmark(yp), field, "duplicate key");
        seen |= BIT(which);
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        struct ymark vm = evmark(yp);
        const char *v = NULL;
        uint64_t u;
        naos_duration d;
        switch (which) {
        case 0:
            if ((rv = want_string(yp, field, "a strategy", &v)) != NAOS_OK)
                return rv;
            if (!spec_strategy_parse(v, &s->strategy))
                return fail(yp, vm, field,
                            "unknown value \"%s\" (expected one-for-one, "
                            "one-for-all, rest-for-one or "
                            "simple-one-for-one)",
                            quote(&q, v));
            *strat_mark = vm;
            break;
        case 1:
            if ((rv = parse_uint(yp, field, 0, SPEC_LIMIT_MAX_RESTARTS,
                                 &u)) != NAOS_OK)
                return rv;
            s->max_restarts = (uint32_t)u;
            break;
        default:
            if ((rv = parse_duration(yp, field, &d)) != NAOS_OK)
                return rv;
            if (d % 1000 != 0)
                return fail(yp, vm, field,
                            "must be whole seconds (got %lldms)",
                            (long long)d);
            if (d < 1000)
                return fail(yp, vm, field, "must be at least 1s");
            if (d / 1000 > SPEC_LIMIT_WINDOW_S)
                return fail(yp, vm, field, "must be at most %us (24h)",
                            (unsigned)SPEC_LIMIT_WINDOW_S);
            s->window_s = (uint32_t)(d / 1000);
            break;
        }
    }
    return NAOS_OK;
}

static int parse_map(struct yp *yp, struct spec_node *out, int depth);

static int
parse_children(struct yp *yp, struct spec_node *n, int depth)
{
    int rv;
    size_t cap = 0;
    if (yp->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail(yp, evmark(yp), "children",
                    "expected a list of children, got %s", kind(yp));
    for (size_t i = 0;; i++) {
        if ((rv = next(yp)) != NAOS_OK)
            return rv;
        if (yp->ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        char field[40];
        snprintf(field, sizeof field, "children[%zu]", i);
        if (yp->ev.type != YAML_MAPPING_START_EVENT)
            return fail(yp, evmark(yp), field,
                        "expected a mapping (a child with an id), got %s",
                        kind(yp));
        if (depth + 1 > SPEC_MAX_DEPTH)
            return fail(yp, evmark(yp), field,
                        "the tree is deeper than %d levels", SPEC_MAX_DEPTH);
        if (yp->nodes >= SPEC_MAX_NODES)
            return fail(yp, evmark(yp), field,
                        "the tree has more than %d nodes", SPEC_MAX_NODES);
        yp->nodes++;
        if (n->nchildren == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct spec_node *nc =
                naos_realloc(n->children, ncap * sizeof *nc);
            if (nc == NULL)
                return oom(yp);
            n->children = nc;
            cap = ncap;
        }
        struct spec_node c;
        if ((rv = parse_map(yp, &c, depth + 1)) != NAOS_OK)
            return rv;
        n->children[n->nchildren++] = c;
    }
    return NAOS_OK;
}

static int
find_key(const char *k, bool top)
{
    for (int i = 0; i < K__COUNT; i++) {
        if (strcmp(k, key_names[i]) == 0) {
            if ((i == K_NAME && !top) || (i == K_ID && top) ||
                (i == K_PLACEMENT && !top) || (i == K_MIGRATION && !top) ||
                (i == K_ON_PARTITION && !top))
                return -1;
            return i;
        }
    }
    return -1;
}

/* parse_map reads one node (the document's top mapping at depth 1, or a
 * child) starting at the current MAPPING-START event, into *out. On error
 * *out is zeroed and holds nothing. */
static int
parse_map(struct yp *yp, struct spec_node *out, int depth)
{
    bool top = depth == 1;
    struct ymark mapmark = evmark(yp);
    struct ymark km[K__COUNT], vm[K__COUNT];
    struct ymark strat_mark = mapmark;
    unsigned seen = 0;
    size_t slot;
    int rv;
    struct spec_node w, s;
    struct qbuf q;

    memset(out, 0, sizeof *out);
    memset(km, 0, sizeof km);
    memset(vm, 0, sizeof vm);
    spec_node_init(&w);
    spec_node_init_supervisor(&s); /* scalars only until the end */
    if ((rv = pos_add(yp, mapmark, &slot)) != NAOS_OK)
        return rv;
    if (top && yp->agent != NULL) {
        /* A project file's agent: named by its key under `agents`. */
        if ((w.id = naos_strdup(yp->agent)) == NULL)
            return oom(yp);
        seen |= BIT(K_NAME);
        km[K_NAME] = vm[K_NAME] = mapmark;
    }

    for (;;) {
        if ((rv = next(yp)) != NAOS_OK)
            goto err;
        if (yp->ev.type == YAML_MAPPING_END_EVENT)
            break;
        const char *k = NULL;
        if ((rv = want_string(yp, "key", "a key name", &k)) != NAOS_OK)
            goto err;
        int key = find_key(k, top);
        if (key == K_NAME && yp->agent != NULL) {
            rv = fail(yp, evmark(yp), "name",
                      "an agent is named by its key under agents");
            goto err;
        }
        if (key < 0) {
            rv = fail(yp, evmark(yp), quote(&q, k),
                      top && yp->agent
                          ? "unknown key (expected the worker keys command, "
                            "restart, shutdown, env, cwd, ready, "
                            "start_timeout, watchdog, max_runtime, output, "
                            "control, backoff, or supervisor and replicas)"
                      : top ? "unknown key (expected name, supervisor, "
                            "children, placement, migration, or the worker "
                            "keys command, restart, shutdown, env, cwd, "
                            "ready, start_timeout, watchdog, max_runtime, "
                            "output, control, backoff, replicas)"
                          : "unknown key (expected id, command, restart, "
                            "shutdown, env, cwd, ready, start_timeout, "
                            "watchdog, max_runtime, output, control, "
                            "backoff, supervisor, "
                            "children, replicas)");
            goto err;
        }
        const char *name = key_names[key];
        if (seen & BIT(key)) {
            rv = fail(yp, evmark(yp), name,
                      "duplicate key (first given at line %u)",
                      km[key].line);
            goto err;
        }
        seen |= BIT(key);
        km[key] = evmark(yp);
        if ((rv = next(yp)) != NAOS_OK)
            goto err;
        vm[key] = evmark(yp);
        const char *v = NULL;
        uint64_t u;
        switch ((enum ykey)key) {
        case K_NAME:
        case K_ID:
            if ((rv = want_string(yp, name, "an id", &v)) != NAOS_OK)
                goto err;
            if (!spec_id_is_valid(v)) {
                rv = fail(yp, vm[key], name,
                          "invalid id \"%s\" (expected 1 to 63 characters of "
                          "A-Z a-z 0-9 _ . -, not . or ..)",
                          quote(&q, v));
                goto err;
            }
            if ((w.id = naos_strdup(v)) == NULL) {
                rv = oom(yp);
                goto err;
            }
            yp->pos[slot].id = vm[key];
            break;
        case K_SUPERVISOR:
            rv = parse_supervisor(yp, &s, &strat_mark);
            break;
        case K_CHILDREN:
            rv = parse_children(yp, &w, depth);
            break;
        case K_PLACEMENT: /* the root's: kept with the supervisor */
            rv = parse_placement(yp, &s);
            break;
        case K_MIGRATION: /* the root's, like placement */
            rv = parse_migration(yp, &s);
            break;
        case K_ON_PARTITION: /* the root's, like placement */
            if ((rv = want_string(yp, name, "keep or stop", &v)) != NAOS_OK)
                goto err;
            if (strcmp(v, "keep") == 0 || strcmp(v, "stop") == 0)
                s.on_partition_keep = strcmp(v, "keep") == 0;
            else
                rv = fail(yp, vm[key], name, "unknown value \"%s\" "
                          "(expected keep or stop)", quote(&q, v));
            break;
        case K_COMMAND:
            rv = parse_command(yp, &w);
            break;
        case K_RESTART:
            if ((rv = want_string(yp, name, "a restart type", &v)) != NAOS_OK)
                goto err;
            if (!spec_restart_parse(v, &w.restart))
                rv = fail(yp, vm[key], name,
                          "unknown value \"%s\" (expected permanent, "
                          "transient or temporary)",
                          quote(&q, v));
            break;
        case K_SHUTDOWN:
            if ((rv = want_string(yp, name, "a shutdown", &v)) != NAOS_OK)
                goto err;
            if (!spec_shutdown_parse(v, &w.shutdown))
                rv = fail(yp, vm[key], name,
                          "invalid value \"%s\" (expected a duration like "
                          "5s, kill or infinity)",
                          quote(&q, v));
            break;
        case K_ENV:
            rv = parse_env(yp, &w);
            break;
        case K_CWD:
            if ((rv = want_string(yp, name, "a directory", &v)) != NAOS_OK)
                goto err;
            if (v[0] == '\0')
                rv = fail(yp, vm[key], name, "must not be empty");
            else if ((w.cwd = naos_strdup(v)) == NULL)
                rv = oom(yp);
            break;
        case K_READY:
            if ((rv = want_string(yp, name, "exec or notify", &v)) != NAOS_OK)
                goto err;
            if (!spec_ready_parse(v, &w.ready))
                rv = fail(yp, vm[key], name,
                          "unknown value \"%s\" (expected exec or notify)",
                          quote(&q, v));
            break;
        case K_OUTPUT:
            if ((rv = want_string(yp, name, "log or discard", &v)) != NAOS_OK)
                goto err;
            if (!spec_output_parse(v, &w.output))
                rv = fail(yp, vm[key], name,
                          "unknown value \"%s\" (expected log or discard)",
                          quote(&q, v));
            break;
        case K_CONTROL:
            if ((rv = want_string(yp, name, "none or full", &v)) != NAOS_OK)
                goto err;
            if (!spec_control_parse(v, &w.control))
                rv = fail(yp, vm[key], name,
                          "unknown value \"%s\" (expected none: the agent "
                          "manages only its own checkpoint, or full: it may "
                          "control the whole node)",
                          quote(&q, v));
            break;
        case K_START_TIMEOUT:
            rv = parse_duration(yp, name, &w.start_timeout);
            break;
        case K_WATCHDOG:
            rv = parse_duration(yp, name, &w.watchdog);
            break;
        case K_MAX_RUNTIME:
            rv = parse_duration(yp, name, &w.max_runtime);
            break;
        case K_BACKOFF:
            rv = parse_backoff(yp, &w);
            break;
        case K_REPLICAS:
            rv = parse_uint(yp, name, 1, SPEC_MAX_REPLICAS, &u);
            if (rv == NAOS_OK)
                s.replicas = (uint32_t)u;
            break;
        case K__COUNT:
            NAOS_ASSERT(0);
        }
        if (rv != NAOS_OK)
            goto err;
    }

    /* The whole mapping is read: decide what node it is. */
    if (top && !(seen & BIT(K_NAME))) {
        rv = fail(yp, mapmark, "name", "missing (the deployment's name)");
        goto err;
    }
    if (!top && !(seen & BIT(K_ID))) {
        rv = fail(yp, mapmark, "id", "missing (every child needs an id)");
        goto err;
    }
    bool worker = seen & BIT(K_COMMAND);
    if (top && yp->agent != NULL && !worker) {
        rv = fail(yp, mapmark, "command",
                  "missing (an agent of a project file is one worker with a "
                  "command; for a tree of them use `naos apply -f FILE`)");
        goto err;
    }
    bool sup = top ? !worker
                   : (seen & (BIT(K_SUPERVISOR) | BIT(K_CHILDREN))) != 0;
    if (sup && worker) {
        rv = fail(yp, km[K_COMMAND], "command",
                  "a child with supervisor or children is a supervisor and "
                  "has no command");
        goto err;
    }
    if (top && worker && (seen & BIT(K_CHILDREN))) {
        rv = fail(yp, km[K_CHILDREN], "children",
                  "a deployment with a single command has no children");
        goto err;
    }
    if (!sup && !worker) {
        rv = fail(yp, mapmark, "command",
                  "missing (a worker needs a command; a supervisor needs "
                  "children)");
        goto err;
    }
    if (sup) {
        static const enum ykey worker_only[] = {
            K_ENV, K_CWD, K_READY, K_START_TIMEOUT, K_WATCHDOG,
            K_MAX_RUNTIME, K_OUTPUT, K_CONTROL};
        for (size_t i = 0; i < sizeof worker_only / sizeof worker_only[0];
             i++) {
            enum ykey k = worker_only[i];
            if (seen & BIT(k)) {
                rv = fail(yp, km[k], key_names[k],
                          "only a worker (with a command) has %s",
                          key_names[k]);
                goto err;
            }
        }
        if ((seen & BIT(K_SHUTDOWN)) && w.shutdown != SPEC_SHUTDOWN_INFINITY) {
            rv = fail(yp, vm[K_SHUTDOWN], "shutdown",
                      "a supervisor must have shutdown infinity (a finite "
                      "value or kill can orphan its subtree)");
            goto err;
        }
        if (!(seen & BIT(K_CHILDREN))) {
            rv = fail(yp, top ? mapmark : km[K_SUPERVISOR], "children",
                      "missing (a supervisor needs at least one child)");
            goto err;
        }
        if (w.nchildren == 0) {
            rv = fail(yp, vm[K_CHILDREN], "children",
                      "must not be empty (a supervisor needs at least one "
                      "child)");
            goto err;
        }
    }
    if (sup || top) {
        bool pool = s.strategy == SPEC_SIMPLE_ONE_FOR_ONE;
        if (pool && !(seen & BIT(K_REPLICAS))) {
            rv = fail(yp, strat_mark, "replicas",
                      "missing (a simple-one-for-one supervisor needs "
                      "replicas: N)");
            goto err;
        }
        if (!pool && (seen & BIT(K_REPLICAS))) {
            rv = fail(yp, km[K_REPLICAS], "replicas",
                      "only a simple-one-for-one supervisor has replicas "
                      "(strategy is %s)",
                      spec_strategy_name(s.strategy));
            goto err;
        }
        if (pool && sup && w.nchildren != 1) {
            rv = fail(yp, vm[K_CHILDREN], "children",
                      "a simple-one-for-one supervisor needs exactly one "
                      "child (the template), not %zu",
                      w.nchildren);
            goto err;
        }
    } else if (seen & BIT(K_REPLICAS)) {
        rv = fail(yp, km[K_REPLICAS], "replicas",
                  "only a simple-one-for-one supervisor has replicas");
        goto err;
    }

    if (sup) {
        /* A supervisor keeps the fields it shares with a worker. */
        s.id = w.id;
        s.restart = w.restart;
        s.backoff_min = w.backoff_min;
        s.backoff_max = w.backoff_max;
        s.children = w.children;
        s.nchildren = w.nchildren;
        w.id = NULL;
        w.children = NULL;
        w.nchildren = 0;
        spec_node_fini(&w);
        *out = s;
    } else if (!top) {
        *out = w;
    } else {
        /* Single-worker deployment: wrap the worker in the root. */
        size_t cslot;
        if ((rv = pos_add(yp, mapmark, &cslot)) != NAOS_OK)
            goto err;
        yp->pos[cslot].id = yp->pos[slot].id;
        s.id = naos_strdup(w.id);
        s.children = naos_alloc(sizeof *s.children);
        if (s.id == NULL || s.children == NULL) {
            naos_free(s.id);
            naos_free(s.children);
            s.id = NULL;
            s.children = NULL;
            rv = oom(yp);
            goto err;
        }
        s.children[0] = w;
        s.nchildren = 1;
        *out = s;
    }
    return NAOS_OK;

err:
    spec_node_fini(&w);
    naos_free(s.place_on);
    naos_free(s.require);
    memset(out, 0, sizeof *out);
    return rv;
}

/* subtree_size counts n and everything below it. */
static size_t
subtree_size(const struct spec_node *n)
{
    size_t c = 1;
    for (size_t i = 0; i < n->nchildren; i++)
        c += subtree_size(&n->children[i]);
    return c;
}

/* locate finds the position of what a spec_validate message names:
 * "PATH: FIELD: ..." with FIELD "id", "children[i]..." or another field. */
static struct ymark
locate(const struct yp *yp, const struct spec_node *root, const char *msg)
{
    struct ymark fallback = yp->npos ? yp->pos[0].node : (struct ymark){1, 1};
    const char *end = strstr(msg, ": ");
    if (end == NULL || root->id == NULL)
        return fallback;
    const char *field = end + 2;
    const struct spec_node *n = root;
    size_t idx = 0;
    const char *p = msg;
    size_t rl = strlen(root->id);
    if ((size_t)(end - p) < rl || strncmp(p, root->id, rl) != 0)
        return fallback;
    p += rl;
    while (p < end) {
        if (*p != '/')
            return fallback;
        p++;
        const char *q = p;
        while (q < end && *q != '/')
            q++;
        size_t len = (size_t)(q - p), off = idx + 1, i;
        for (i = 0; i < n->nchildren; i++) {
            const char *cid = n->children[i].id;
            if (cid && strlen(cid) == len && strncmp(cid, p, len) == 0)
                break;
            off += subtree_size(&n->children[i]);
        }
        if (i == n->nchildren)
            return fallback;
        n = &n->children[i];
        idx = off;
        p = q;
    }
    if (idx >= yp->npos)
        return fallback;
    if (strncmp(field, "id:", 3) == 0)
        return yp->pos[idx].id;
    unsigned long ci;
    int used = 0;
    if (sscanf(field, "children[%lu]%n", &ci, &used) == 1 && used > 0 &&
        ci < n->nchildren) {
        size_t off = idx + 1;
        for (size_t i = 0; i < ci; i++)
            off += subtree_size(&n->children[i]);
        if (off < yp->npos)
            return strncmp(field + used, ".id", 3) == 0 ? yp->pos[off].id
                                                         : yp->pos[off].node;
    }
    return yp->pos[idx].node;
}

/* enter_document moves yp past STREAM-START and DOCUMENT-START, refusing
 * an empty stream with "is empty (expected EXPECTED)". */
static int
enter_document(struct yp *yp, const char *expected)
{
    int rv;
    if ((rv = next(yp)) != NAOS_OK) /* STREAM-START */
        return rv;
    if ((rv = next(yp)) != NAOS_OK)
        return rv;
    if (yp->ev.type == YAML_STREAM_END_EVENT)
        return fail(yp, evmark(yp), "document", "is empty (expected %s)",
                    expected);
    return next(yp); /* after DOCUMENT-START */
}

static int
parse_document(struct yp *yp, struct spec_node *out)
{
    int rv;
    if ((rv = enter_document(yp, "a mapping with name and children")) !=
        NAOS_OK)
        return rv;
    if (is_null(yp))
        return fail(yp, evmark(yp), "document",
                    "is empty (expected a mapping with name and children)");
    if (yp->ev.type != YAML_MAPPING_START_EVENT)
        return fail(yp, evmark(yp), "document",
                    "expected a mapping with name and children at the top "
                    "level, got %s",
                    kind(yp));
    yp->nodes = 1;
    if ((rv = parse_map(yp, out, 1)) != NAOS_OK)
        return rv;
    if ((rv = next(yp)) != NAOS_OK) /* DOCUMENT-END */
        return rv;
    if ((rv = next(yp)) != NAOS_OK)
        return rv;
    if (yp->ev.type != YAML_STREAM_END_EVENT)
        return fail(yp, evmark(yp), "document",
                    "only one document is allowed (found a second one)");
    return NAOS_OK;
}

/* validate runs spec_validate on out, the tree just read, and places its
 * message at the position of the node it names. */
static int
validate(struct yp *yp, const struct spec_node *out)
{
    char vmsg[4096];
    if (spec_validate(out, vmsg, sizeof vmsg) == NAOS_OK)
        return NAOS_OK;
    struct ymark m = locate(yp, out, vmsg);
    if (yp->errbuf != NULL && yp->errlen > 0)
        snprintf(yp->errbuf, yp->errlen, "%s:%u:%u: %s", yp->fname, m.line,
                 m.col, vmsg);
    return NAOS_EINVAL;
}

/* An agent name of a project file and where it was written. */
struct agent_at {
    char id[SPEC_MAX_ID_LEN + 1];
    struct ymark m;
    size_t order; /* its place among the agents */
};

static int
agent_at_cmp(const void *a, const void *b)
{
    const struct agent_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* agents_unique rejects an agent name written twice, at the second place
 * that repeats a name (sorting: a file holds up to ~10^5 names). */
static int
agents_unique(struct yp *yp, struct agent_at *v, size_t n)
{
    if (n < 2)
        return NAOS_OK; /* also: qsort must not be given v == NULL */
    qsort(v, n, sizeof *v, agent_at_cmp);
    const struct agent_at *dup = NULL, *first = NULL;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i].id, v[i - 1].id) != 0)
            continue;
        if (dup == NULL || v[i].order < dup->order) {
            dup = &v[i];
            first = &v[i - 1];
        }
    }
    if (dup == NULL)
        return NAOS_OK;
    return fail(yp, dup->m, dup->id, "defined twice (first at line %u)",
                first->m.line);
}

/* parse_project reads `agents: {NAME: {worker fields}, ...}`, checking
 * every agent (names are unique), and keeps the one named name in *out. */
static int
parse_project(struct yp *yp, const char *name, struct spec_node *out,
              char *names, size_t nameslen)
{
    int rv;
    struct qbuf q;
    bool found = false, seen_agents = false;
    struct agent_at *seen = NULL;
    size_t nseen = 0, capseen = 0;
    if ((rv = enter_document(yp, "a mapping with agents")) != NAOS_OK)
        return rv;
    if (yp->ev.type != YAML_MAPPING_START_EVENT)
        return fail(yp, evmark(yp), "document",
                    "expected a mapping with agents at the top level, got %s",
                    kind(yp));
    for (;;) {
        if ((rv = next(yp)) != NAOS_OK)
            goto err;
        if (yp->ev.type == YAML_MAPPING_END_EVENT)
            break;
        const char *k = NULL;
        if ((rv = want_string(yp, "key", "a key name", &k)) != NAOS_OK)
            goto err;
        if (strcmp(k, "agents") != 0) {
            rv = fail(yp, evmark(yp), quote(&q, k),
                      "unknown key (expected agents)");
            goto err;
        }
        if (seen_agents) {
            rv = fail(yp, evmark(yp), "agents", "duplicate key");
            goto err;
        }
        seen_agents = true;
        if ((rv = next(yp)) != NAOS_OK)
            goto err;
        if (yp->ev.type != YAML_MAPPING_START_EVENT) {
            rv = fail(yp, evmark(yp), "agents",
                      "expected a mapping of agent names to agents, got %s",
                      kind(yp));
            goto err;
        }
        for (;;) {
            if ((rv = next(yp)) != NAOS_OK)
                goto err;
            if (yp->ev.type == YAML_MAPPING_END_EVENT)
                break;
            if ((rv = want_string(yp, "agents", "an agent name", &k)) !=
                NAOS_OK)
                goto err;
            if (!spec_id_is_valid(k)) {
                rv = fail(yp, evmark(yp), "agents",
                          "invalid name \"%s\" (expected 1 to 63 characters "
                          "of A-Z a-z 0-9 _ . -, not . or ..)",
                          quote(&q, k));
                goto err;
            }
            char agent[SPEC_MAX_ID_LEN + 1];
            snprintf(agent, sizeof agent, "%s", k);
            if (nseen == capseen) {
                size_t cap = capseen ? 2 * capseen : 16;
                struct agent_at *v = naos_realloc(seen, cap * sizeof *v);
                if (v == NULL) {
                    rv = oom(yp);
                    goto err;
                }
                seen = v;
                capseen = cap;
            }
            snprintf(seen[nseen].id, sizeof seen[nseen].id, "%s", agent);
            seen[nseen].m = evmark(yp);
            seen[nseen].order = nseen;
            nseen++;
            bool want = strcmp(agent, name) == 0;
            if (want && found) {
                rv = fail(yp, evmark(yp), agent, "defined twice");
                goto err;
            }
            size_t used = strlen(names);
            if (used + strlen(agent) + 3 < nameslen)
                snprintf(names + used, nameslen - used, "%s%s",
                         used ? ", " : "", agent);
            if ((rv = next(yp)) != NAOS_OK)
                goto err;
            if (yp->ev.type != YAML_MAPPING_START_EVENT) {
                rv = fail(yp, evmark(yp), agent,
                          "expected a mapping (command, env, ...), got %s",
                          kind(yp));
                goto err;
            }
            struct spec_node a;
            yp->agent = agent;
            yp->npos = 0;
            yp->nodes = 1;
            rv = parse_map(yp, &a, 1);
            yp->agent = NULL;
            if (rv == NAOS_OK && (rv = validate(yp, &a)) != NAOS_OK)
                spec_node_fini(&a);
            if (rv != NAOS_OK)
                goto err;
            if (want) {
                *out = a;
                found = true;
            } else {
                spec_node_fini(&a);
            }
        }
    }
    if ((rv = next(yp)) != NAOS_OK) /* DOCUMENT-END */
        goto err;
    if ((rv = next(yp)) != NAOS_OK)
        goto err;
    if (yp->ev.type != YAML_STREAM_END_EVENT) {
        rv = fail(yp, evmark(yp), "document",
                  "only one document is allowed (found a second one)");
        goto err;
    }
    if ((rv = agents_unique(yp, seen, nseen)) != NAOS_OK)
        goto err;
    naos_free(seen);
    if (!found) {
        if (yp->errbuf != NULL && yp->errlen > 0)
            snprintf(yp->errbuf, yp->errlen, "%s defines no agent %s%s%s%s",
                     yp->fname, name, names[0] ? " (it defines " : "", names,
                     names[0] ? ")" : "");
        return NAOS_ENOTFOUND;
    }
    return NAOS_OK;
err:
    naos_free(seen);
    if (found)
        spec_node_fini(out);
    return rv;
}

/* yp_open readies yp and libyaml over text (one input file, at most
 * SPEC_YAML_MAX_BYTES); yp_close frees what yp_open and parsing took. */
static int
yp_open(struct yp *yp, const char *fname, const char *text, size_t len,
        char *errbuf, size_t errlen)
{
    memset(yp, 0, sizeof *yp);
    yp->fname = fname ? fname : "<input>";
    yp->text = text ? text : "";
    yp->len = text ? len : 0;
    yp->errbuf = errbuf;
    yp->errlen = errlen;
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (len > SPEC_YAML_MAX_BYTES)
        return fail(yp, offset_mark(yp, SPEC_YAML_MAX_BYTES), "file",
                    "is too big (%zu bytes; at most %d)", len,
                    SPEC_YAML_MAX_BYTES);
    if (!yaml_parser_initialize(&yp->parser))
        return oom(yp);
    yaml_parser_set_input_string(&yp->parser, (const unsigned char *)yp->text,
                                 yp->len);
    yp->parser_open = true;
    return NAOS_OK;
}

static void
yp_close(struct yp *yp)
{
    if (yp->have_ev)
        yaml_event_delete(&yp->ev);
    if (yp->parser_open)
        yaml_parser_delete(&yp->parser);
    naos_free(yp->pos);
}

int
spec_yaml_parse_agent(const char *fname, const char *text, size_t len,
                      const char *name, struct spec_node *out, char *errbuf,
                      size_t errlen)
{
    struct yp yp;
    char names[256] = "";

    memset(out, 0, sizeof *out);
    int rv = yp_open(&yp, fname, text, len, errbuf, errlen);
    if (rv == NAOS_OK)
        rv = parse_project(&yp, name, out, names, sizeof names);
    if (rv != NAOS_OK)
        memset(out, 0, sizeof *out);
    yp_close(&yp);
    return rv;
}

int
spec_yaml_parse(const char *fname, const char *text, size_t len,
                struct spec_node *out, char *errbuf, size_t errlen)
{
    struct yp yp;

    memset(out, 0, sizeof *out);
    int rv = yp_open(&yp, fname, text, len, errbuf, errlen);
    if (rv != NAOS_OK) {
        yp_close(&yp);
        return rv;
    }

    if ((rv = parse_document(&yp, out)) != NAOS_OK)
        goto err;

    if ((rv = validate(&yp, out)) != NAOS_OK)
        goto err;
    goto out;

err:
    spec_node_fini(out);
out:
    yp_close(&yp);
    return rv;
}
