/* SPDX-License-Identifier: Apache-2.0 */
/* label_test.c: label.h's bounds, each at its edge: key 1..63 bytes of
 * [a-z0-9._-] starting with a letter or digit, value 0..63 printable
 * bytes without space or '=', at most 16 labels, no key twice, 512 bytes
 * of KEY=VALUE together. */
#include <stdio.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/spec/label.h"

static char err[256];

static int
parse(const char *text, struct spec_label *l)
{
    err[0] = '\0';
    return spec_label_parse(l, text, err, sizeof err);
}

static void
test_parse(void)
{
    struct spec_label l;
    NT_EQ_INT(parse("zone=eu-west", &l), NAOS_OK);
    NT_EQ_STR(l.key, "zone");
    NT_EQ_STR(l.value, "eu-west");
    NT_EQ_INT(parse("gpu.model_2-x=a100/80:g", &l), NAOS_OK);
    NT_EQ_INT(parse("9rack=", &l), NAOS_OK); /* digit first; empty value */
    NT_EQ_STR(l.value, "");
    NT_EQ_INT(parse("zone", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "label zone: expected KEY=VALUE");
    NT_EQ_INT(parse("=eu", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "the key is empty");
    NT_EQ_INT(parse("Zone=eu", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "label Zone=eu: the key must start");
    NT_EQ_INT(parse("-zone=eu", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "must start with a lower-case letter or a digit");
    NT_EQ_INT(parse("zo ne=eu", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "may hold only a-z, 0-9");
    NT_EQ_INT(parse("zone=e u", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "label zone=e u: the value may hold only printable");
    NT_EQ_INT(parse("zone=a=b", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "the value may hold");
    NT_EQ_INT(parse("zone=\x7f", &l), NAOS_EINVAL);
    NT_CONTAINS(err, "label zone=?");
}

static void
test_lengths_at_the_edge(void)
{
    char text[200];
    struct spec_label l;
    /* key: 63 bytes pass, 64 do not */
    memset(text, 'k', 63);
    strcpy(text + 63, "=v");
    NT_EQ_INT(parse(text, &l), NAOS_OK);
    NT_EQ_INT(strlen(l.key), 63);
    memset(text, 'k', 64);
    strcpy(text + 64, "=v");
    NT_EQ_INT(parse(text, &l), NAOS_EINVAL);
    NT_CONTAINS(err, "the key is longer than 63 bytes");
    /* value: 63 bytes pass, 64 do not */
    strcpy(text, "k=");
    memset(text + 2, 'v', 63);
    text[65] = '\0';
    NT_EQ_INT(parse(text, &l), NAOS_OK);
    NT_EQ_INT(strlen(l.value), 63);
    memset(text + 2, 'v', 64);
    text[66] = '\0';
    NT_EQ_INT(parse(text, &l), NAOS_EINVAL);
    NT_CONTAINS(err, "the value is longer than 63 bytes");
    /* the predicates on their own */
    char k[80];
    memset(k, 'k', 63);
    k[63] = '\0';
    NT_TRUE(spec_label_key_problem(k) == NULL);
    NT_TRUE(spec_label_value_problem(k) == NULL);
    k[63] = 'k';
    k[64] = '\0';
    NT_EQ_STR(spec_label_key_problem(k), "is longer than 63 bytes");
    NT_EQ_STR(spec_label_value_problem(k), "is longer than 63 bytes");
    NT_EQ_STR(spec_label_key_problem(""), "is empty");
    NT_TRUE(spec_label_value_problem("") == NULL);
    NT_TRUE(spec_label_key_problem("a._-9") == NULL);
    NT_TRUE(spec_label_key_problem("_a") != NULL);
    NT_TRUE(spec_label_key_problem(".a") != NULL);
    NT_TRUE(spec_label_value_problem("~!@#$%^&*()") == NULL);
    /* a NUL inside the given length is refused, not cut */
    NT_EQ_INT(spec_label_set(&l, "zo\0e", 4, "eu", 2, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "the key has a NUL byte");
    NT_EQ_INT(spec_label_set(&l, "zone", 4, "e\0", 2, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "the value has a NUL byte");
}

/* Builds a set of n labels "kNN=" with values padded to vlen bytes. */
static void
fill(struct spec_label *l, size_t n, size_t vlen)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(l[i].key, sizeof l[i].key, "k%02zu", i);
        memset(l[i].value, 'v', vlen);
        l[i].value[vlen] = '\0';
    }
}

static void
test_set_bounds(void)
{
    struct spec_label l[SPEC_LABELS_MAX + 1];
    size_t n = 0;
    fill(l, SPEC_LABELS_MAX + 1, 1);
    NT_EQ_INT(spec_labels_check(l, SPEC_LABELS_MAX, err, sizeof err),
              NAOS_OK);
    NT_EQ_INT(spec_labels_check(l, SPEC_LABELS_MAX + 1, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "17 labels: at most 16");
    /* add: the 17th is refused, naming it, and nothing changes */
    struct spec_label set[SPEC_LABELS_MAX];
    for (size_t i = 0; i < SPEC_LABELS_MAX; i++)
        NT_EQ_INT(spec_labels_add(set, &n, &l[i], err, sizeof err), NAOS_OK);
    NT_EQ_INT(spec_labels_add(set, &n, &l[SPEC_LABELS_MAX], err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "label k16=v: at most 16 labels");
    NT_EQ_INT(n, SPEC_LABELS_MAX);
    /* a key twice */
    n = 1;
    struct spec_label dup = set[0];
    snprintf(dup.value, sizeof dup.value, "other");
    NT_EQ_INT(spec_labels_add(set, &n, &dup, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "label k00=other: the key k00 is given twice");
    NT_EQ_INT(n, 1);
    /* 512 bytes of KEY=VALUE together pass, 513 do not: 8 labels of
     * "kNN=" + 60 bytes = 64 each */
    fill(l, 8, 60);
    NT_EQ_INT(spec_labels_check(l, 8, err, sizeof err), NAOS_OK);
    l[7].value[60] = 'v';
    l[7].value[61] = '\0';
    NT_EQ_INT(spec_labels_check(l, 8, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "labels: 513 bytes of KEY=VALUE together, at most 512");
    /* an unterminated array is refused, not read past */
    fill(l, 1, 1);
    memset(l[0].key, 'k', sizeof l[0].key);
    NT_EQ_INT(spec_labels_check(l, 1, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "longer than 63 bytes");
}

static void
test_find_and_format(void)
{
    struct spec_label l[2] = {{"zone", "eu"}, {"gpu", "true"}};
    NT_EQ_STR(spec_labels_find(l, 2, "gpu"), "true");
    NT_TRUE(spec_labels_find(l, 2, "gp") == NULL);
    char buf[64];
    NT_EQ_STR(spec_labels_format(l, 2, ", ", buf, sizeof buf),
              "zone=eu, gpu=true");
    NT_EQ_STR(spec_labels_format(l, 2, ", ", buf, 8), "zone=eu");
    NT_EQ_STR(spec_labels_format(l, 0, ", ", buf, sizeof buf), "");
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_parse),
        NT_CASE(test_lengths_at_the_edge),
        NT_CASE(test_set_bounds),
        NT_CASE(test_find_and_format),
        {0},
    };
    return nt_run(cases);
}
