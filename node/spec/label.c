/* SPDX-License-Identifier: Apache-2.0 */
/* label.c: see label.h. */
#include "node/spec/label.h"

#include <stdio.h>
#include <string.h>

#include "node/base/err.h"

const char *
spec_label_key_problem(const char *key)
{
    size_t len = strlen(key);
    if (len == 0)
        return "is empty";
    if (len > SPEC_LABEL_KEY_MAX)
        return "is longer than 63 bytes";
    if (!((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= '0' && key[0] <= '9')))
        return "must start with a lower-case letter or a digit";
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return "may hold only a-z, 0-9, '.', '_' and '-'";
    return NULL;
}

const char *
spec_label_value_problem(const char *value)
{
    if (strlen(value) > SPEC_LABEL_VALUE_MAX)
        return "is longer than 63 bytes";
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '=')
            return "may hold only printable ASCII other than space and '='";
    return NULL;
}

/* show copies at most 63 bytes of s[0..len) into buf, bytes that are not
 * printable as '?', for an error message. */
static const char *
show(const char *s, size_t len, char buf[64])
{
    size_t n = len < 63 ? len : 63;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < ' ' || c >= 0x7f ? '?' : (char)c;
    }
    buf[n] = '\0';
    return buf;
}

int
spec_label_set(struct spec_label *out, const char *key, size_t klen,
               const char *value, size_t vlen, char *err, size_t errlen)
{
    char kb[64], vb[64];
    const char *why = NULL;
    if (klen > SPEC_LABEL_KEY_MAX || memchr(key, '\0', klen) != NULL)
        why = klen > SPEC_LABEL_KEY_MAX ? "is longer than 63 bytes"
                                        : "has a NUL byte";
    else {
        memcpy(out->key, key, klen);
        out->key[klen] = '\0';
        why = spec_label_key_problem(out->key);
    }
    if (why != NULL) {
        snprintf(err, errlen, "label %s=%s: the key %s", show(key, klen, kb),
                 show(value, vlen, vb), why);
        return NAOS_EINVAL;
    }
    if (vlen > SPEC_LABEL_VALUE_MAX || memchr(value, '\0', vlen) != NULL)
        why = vlen > SPEC_LABEL_VALUE_MAX ? "is longer than 63 bytes"
                                          : "has a NUL byte";
    else {
        memcpy(out->value, value, vlen);
        out->value[vlen] = '\0';
        why = spec_label_value_problem(out->value);
    }
    if (why != NULL) {
        snprintf(err, errlen, "label %s=%s: the value %s",
                 show(key, klen, kb), show(value, vlen, vb), why);
        return NAOS_EINVAL;
    }
    return NAOS_OK;
}

int
spec_label_parse(struct spec_label *out, const char *text, char *err,
                 size_t errlen)
{
    const char *eq = strchr(text, '=');
    if (eq == NULL) {
        char tb[64];
        snprintf(err, errlen, "label %s: expected KEY=VALUE",
                 show(text, strlen(text), tb));
        return NAOS_EINVAL;
    }
    return spec_label_set(out, text, (size_t)(eq - text), eq + 1,
                          strlen(eq + 1), err, errlen);
}

int
spec_labels_check(const struct spec_label *l, size_t n, char *err,
                  size_t errlen)
{
    if (n > SPEC_LABELS_MAX) {
        snprintf(err, errlen, "%zu labels: at most %d", n, SPEC_LABELS_MAX);
        return NAOS_EINVAL;
    }
    size_t text = 0;
    for (size_t i = 0; i < n; i++) {
        /* the arrays may come unterminated from the caller */
        size_t kl = strnlen(l[i].key, sizeof l[i].key);
        size_t vl = strnlen(l[i].value, sizeof l[i].value);
        struct spec_label tmp;
        int rc = spec_label_set(&tmp, l[i].key, kl, l[i].value, vl, err,
                                errlen);
        if (rc != NAOS_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(l[j].key, tmp.key) == 0) {
                snprintf(err, errlen, "label %s=%s: the key %s is given "
                         "twice", tmp.key, tmp.value, tmp.key);
                return NAOS_EINVAL;
            }
        text += kl + 1 + vl;
    }
    if (text > SPEC_LABELS_TEXT_MAX) {
        snprintf(err, errlen, "labels: %zu bytes of KEY=VALUE together, at "
                 "most %d", text, SPEC_LABELS_TEXT_MAX);
        return NAOS_EINVAL;
    }
    return NAOS_OK;
}

int
spec_labels_add(struct spec_label *l, size_t *n, const struct spec_label *one,
                char *err, size_t errlen)
{
    if (*n >= SPEC_LABELS_MAX) {
        snprintf(err, errlen, "label %.63s=%.63s: at most %d labels",
                 one->key, one->value, SPEC_LABELS_MAX);
        return NAOS_EINVAL;
    }
    l[*n] = *one;
    int rc = spec_labels_check(l, *n + 1, err, errlen);
    if (rc == NAOS_OK)
        (*n)++;
    return rc;
}

const char *
spec_labels_find(const struct spec_label *l, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].key, key) == 0)
            return l[i].value;
    return NULL;
}

char *
spec_labels_format(const struct spec_label *l, size_t n, const char *sep,
                   char *buf, size_t len)
{
    size_t at = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < len; i++) {
        int w = snprintf(buf + at, len - at, "%s%s=%s", i ? sep : "",
                         l[i].key, l[i].value);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    return buf;
}
