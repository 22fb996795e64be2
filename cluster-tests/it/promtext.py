# SPDX-License-Identifier: Apache-2.0
"""promtext.py: a strict parser of the Prometheus text exposition format,
version 0.0.4, for tests (standard library only).

parse(text) returns {family: {"type", "help", "samples": [(name, labels
dict, value float)]}} or raises ValueError naming the line. Stricter than
Prometheus itself where that catches mistakes:
  - the text ends with a newline; no blank lines;
  - every sample belongs to a family declared with # TYPE before it, and
    each family's HELP/TYPE appear once and before its samples, and its
    samples are contiguous (a family is never reopened);
  - metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
    (not __*), label values with only the \\\\, \\" and \\n escapes, no
    duplicate label names, no duplicate series;
  - values parse as floats (NaN, +Inf, -Inf allowed), no timestamps;
  - counters are named *_total with values >= 0; histograms have
    _bucket{le=...} series ascending in le with non-decreasing counts, a
    +Inf bucket equal to _count, and a _sum;
  - with prefix, every family name starts with it.
"""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _value(s, where):
    if s in ("NaN", "+Inf", "-Inf"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", s):
        raise ValueError("%s: value %r is not a float" % (where, s))
    return float(s)


def _labels(s, where):
    """Parses 'a="x",b="y"' (the text between braces)."""
    out = {}
    i = 0
    while i < len(s):
        m = re.match(r"([^=]*)=\"", s[i:])
        if not m:
            raise ValueError("%s: bad label syntax at %r" % (where, s[i:]))
        name = m.group(1)
        if not LABEL.match(name) or name.startswith("__"):
            raise ValueError("%s: bad label name %r" % (where, name))
        if name in out:
            raise ValueError("%s: duplicate label %r" % (where, name))
        i += m.end()
        val = []
        while True:
            if i >= len(s):
                raise ValueError("%s: unterminated label value" % where)
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    raise ValueError("%s: bad escape in label value" % where)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError("%s: newline in label value" % where)
            else:
                val.append(c)
                i += 1
        out[name] = "".join(val)
        if i < len(s):
            if s[i] != ",":
                raise ValueError("%s: expected ',' in labels" % where)
            i += 1
            if i == len(s):
                break  # a trailing comma is allowed by the format
    return out


def _family_of(name, families):
    if name in families and families[name]["type"] not in ("histogram",
                                                            "summary"):
        return name
    for sfx in ("_bucket", "_sum", "_count"):
        if name.endswith(sfx):
            base = name[:-len(sfx)]
            f = families.get(base)
            if f and (f["type"] == "histogram" or
                      (f["type"] == "summary" and sfx != "_bucket")):
                return base
    return None


def parse(text, prefix=None):
    if not text.endswith("\n"):
        raise ValueError("text does not end with a newline")
    families = {}
    order = []
    series = set()
    current = None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d (%r)" % (n, line[:120])
        if line == "":
            raise ValueError("%s: blank line" % where)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                kind, name = parts[1], parts[2]
                if not NAME.match(name):
                    raise ValueError("%s: bad metric name" % where)
                f = families.get(name)
                if f is None:
                    f = families[name] = {"type": None, "help": None,
                                          "samples": [], "closed": False}
                    order.append(name)
                if f["samples"] or f["closed"]:
                    raise ValueError("%s: %s after the family's samples" %
                                     (where, kind))
                if current is not None and current != name:
                    families[current]["closed"] = True
                current = name
                if kind == "HELP":
                    if f["help"] is not None:
                        raise ValueError("%s: second HELP" % where)
                    f["help"] = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", f["help"].replace("\\\\", "")):
                        raise ValueError("%s: bad escape in HELP" % where)
                else:
                    if f["type"] is not None:
                        raise ValueError("%s: second TYPE" % where)
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        raise ValueError("%s: unknown type %r" % (where, t))
                    f["type"] = t
                    if t == "counter" and not name.endswith("_total"):
                        raise ValueError("%s: counter not named *_total" %
                                         where)
                continue
            continue  # other comments are allowed
        m = re.match(r"([^{ ]+)(\{(.*)\})? (\S+)\Z", line)
        if not m:
            raise ValueError("%s: not a sample line (or has a timestamp)" %
                             where)
        name, labels, value = m.group(1), m.group(3), m.group(4)
        if not NAME.match(name):
            raise ValueError("%s: bad metric name %r" % (where, name))
        fam = _family_of(name, families)
        if fam is None or families[fam]["type"] is None:
            raise ValueError("%s: sample of an undeclared family" % where)
        if fam != current or families[fam]["closed"]:
            raise ValueError("%s: family %s is not contiguous" % (where, fam))
        lab = _labels(labels, where) if labels else {}
        key = (name, tuple(sorted(lab.items())))
        if key in series:
            raise ValueError("%s: duplicate series" % where)
        series.add(key)
        v = _value(value, where)
        f = families[fam]
        if f["type"] == "counter" and not (v >= 0):
            raise ValueError("%s: negative counter" % where)
        if name.endswith("_bucket") and f["type"] == "histogram":
            if "le" not in lab:
                raise ValueError("%s: bucket without le" % where)
            _value(lab["le"], where)
        f["samples"].append((name, lab, v))
    for name in order:
        f = families[name]
        if f["type"] is None:
            raise ValueError("family %s has HELP but no TYPE" % name)
        if prefix and not name.startswith(prefix):
            raise ValueError("family %s lacks the %s prefix" % (name, prefix))
        if f["type"] == "histogram":
            _check_histogram(name, f["samples"])
        del f["closed"]
    return families


def _check_histogram(name, samples):
    groups = {}
    for sname, lab, v in samples:
        rest = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None,
                                     "count": None})
        if sname == name + "_bucket":
            g["buckets"].append((_value(lab["le"], name), v))
        elif sname == name + "_sum":
            g["sum"] = v
        elif sname == name + "_count":
            g["count"] = v
    for rest, g in groups.items():
        les = [le for le, _ in g["buckets"]]
        if les != sorted(les) or not les or not math.isinf(les[-1]):
            raise ValueError("%s%s: buckets not ascending to +Inf" %
                             (name, rest))
        counts = [c for _, c in g["buckets"]]
        if counts != sorted(counts):
            raise ValueError("%s%s: bucket counts decrease" % (name, rest))
        if g["count"] is None or g["sum"] is None:
            raise ValueError("%s%s: missing _sum or _count" % (name, rest))
        if counts[-1] != g["count"]:
            raise ValueError("%s%s: +Inf bucket %s != _count %s" %
                             (name, rest, counts[-1], g["count"]))


def value(families, family, **labels):
    """The value of the one sample of family whose labels include labels
    (None when there is none)."""
    f = families.get(family)
    if f is None:
        return None
    found = [v for n, lab, v in f["samples"]
             if n == family and all(lab.get(k) == x
                                    for k, x in labels.items())]
    if len(found) > 1:
        raise AssertionError("%d samples of %s match %r" %
                             (len(found), family, labels))
    return found[0] if found else None
