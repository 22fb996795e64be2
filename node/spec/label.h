/* SPDX-License-Identifier: Apache-2.0 */
/* label.h: node labels (`naos-node start --label KEY=VALUE`) and the
 * placement constraints that name them (`naos deploy --require KEY=VALUE`,
 * a tree's `placement: {require: {KEY: VALUE}}`). A node gossips its labels
 * with its health (NodeHealth.labels); the leader places a deployment that
 * requires labels only on a node that has every one with the same value
 * (node/cmd/placement.h).
 *
 * Bounds (the same for a node's labels and a deployment's requirements;
 * docs/architecture.md, "Placement"):
 *   - at most SPEC_LABELS_MAX (16) labels, no key twice;
 *   - a key is 1..63 bytes of [a-z0-9._-] and starts with a letter or a
 *     digit (Kubernetes' label name, lower case only: "zone",
 *     "gpu.model", "rack-2");
 *   - a value is 0..63 bytes of printable ASCII other than space and '='
 *     ("eu-west", "true", "" );
 *   - the labels' KEY=VALUE texts together are at most
 *     SPEC_LABELS_TEXT_MAX (512) bytes, so that a node's health, which
 *     carries them in every gossiped health update, stays within
 *     SWIM_HEALTH_MAX and one message's piggyback budget (swim.h).
 *
 * Pure; no allocation; any thread. */
#ifndef NAOS_SPEC_LABEL_H
#define NAOS_SPEC_LABEL_H

#include <stdbool.h>
#include <stddef.h>

#define SPEC_LABELS_MAX 16
#define SPEC_LABEL_KEY_MAX 63
#define SPEC_LABEL_VALUE_MAX 63
#define SPEC_LABELS_TEXT_MAX 512

/* struct spec_label: one KEY=VALUE, NUL-terminated within its arrays. */
struct spec_label {
    char key[SPEC_LABEL_KEY_MAX + 1];
    char value[SPEC_LABEL_VALUE_MAX + 1];
};

/* spec_label_key_problem returns NULL when key (borrowed) is a valid
 * label key, else a phrase saying what is wrong ("is empty", "is longer
 * than 63 bytes", ...). */
const char *spec_label_key_problem(const char *key);
/* spec_label_value_problem: the same for a value. */
const char *spec_label_value_problem(const char *value);

/* spec_label_set fills *out from key and value (borrowed; lengths given,
 * so that the caller's text need not be NUL-terminated). NAOS_OK, or
 * NAOS_EINVAL with a sentence naming the label in err (caller buffer +
 * length); *out is then unspecified. */
int spec_label_set(struct spec_label *out, const char *key, size_t klen,
                   const char *value, size_t vlen, char *err, size_t errlen);

/* spec_label_parse reads "KEY=VALUE" (text borrowed) into *out, as
 * spec_label_set. The first '=' ends the key; no '=' is an error. */
int spec_label_parse(struct spec_label *out, const char *text, char *err,
                     size_t errlen);

/* spec_labels_check checks a whole set l[0..n) (borrowed): each key and
 * value, no key twice, at most SPEC_LABELS_MAX and SPEC_LABELS_TEXT_MAX.
 * NAOS_OK or NAOS_EINVAL with a sentence naming the label in err. */
int spec_labels_check(const struct spec_label *l, size_t n, char *err,
                      size_t errlen);

/* spec_labels_add appends one label (copied) to l[0..*n) (capacity
 * SPEC_LABELS_MAX) after checking that the set stays valid
 * (spec_labels_check). NAOS_OK, or NAOS_EINVAL with err; *n then
 * unchanged. */
int spec_labels_add(struct spec_label *l, size_t *n,
                    const struct spec_label *one, char *err, size_t errlen);

/* spec_labels_find returns the value of key in l[0..n), or NULL. */
const char *spec_labels_find(const struct spec_label *l, size_t n,
                             const char *key);

/* spec_labels_format writes "k=v, k2=v2" (sep between labels) into buf
 * (caller buffer + length, always NUL-terminated; truncated to fit) and
 * returns buf. */
char *spec_labels_format(const struct spec_label *l, size_t n,
                         const char *sep, char *buf, size_t len);

#endif
