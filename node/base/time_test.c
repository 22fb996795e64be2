/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/testing.h"
#include "node/base/time.h"

static void
test_duration_parse(void)
{
    naos_duration d = -7;
    NT_TRUE(naos_duration_parse("300s", &d));
    NT_EQ_INT(d, 300000);
    NT_TRUE(naos_duration_parse("5m", &d));
    NT_EQ_INT(d, 300000);
    NT_TRUE(naos_duration_parse("250ms", &d));
    NT_EQ_INT(d, 250);
    NT_TRUE(naos_duration_parse("30", &d));
    NT_EQ_INT(d, 30000);
    NT_TRUE(naos_duration_parse("1.5s", &d));
    NT_EQ_INT(d, 1500);
    NT_TRUE(naos_duration_parse("2h", &d));
    NT_EQ_INT(d, 7200000);
}

static void
test_duration_rejects(void)
{
    naos_duration d = 42;
    NT_FALSE(naos_duration_parse("", &d));
    NT_FALSE(naos_duration_parse("-1s", &d));
    NT_FALSE(naos_duration_parse("5 s", &d));
    NT_FALSE(naos_duration_parse("5x", &d));
    NT_FALSE(naos_duration_parse("s", &d));
    NT_FALSE(naos_duration_parse("1e300s", &d));
    NT_FALSE(naos_duration_parse("nan", &d));
    NT_FALSE(naos_duration_parse("inf", &d));
    NT_FALSE(naos_duration_parse("0x10", &d));
    NT_FALSE(naos_duration_parse("1e3", &d));
    NT_FALSE(naos_duration_parse("99999999999999999999999h", &d));
    NT_EQ_INT(d, 42);
}

static void
test_duration_format(void)
{
    char b[32];
    naos_duration_format(300000, b, sizeof b);
    NT_EQ_STR(b, "5m");
    naos_duration_format(45000, b, sizeof b);
    NT_EQ_STR(b, "45s");
    naos_duration_format(1500, b, sizeof b);
    NT_EQ_STR(b, "1500ms");
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_duration_parse), NT_CASE(test_duration_rejects),
        NT_CASE(test_duration_format), {0}};
    return nt_run(cases);
}
