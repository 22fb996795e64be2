/* SPDX-License-Identifier: Apache-2.0 */
/* paths_test.c: the run directory rule shared with naos-node. */
#include "cli/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/testing.h"

static void
test_rule(void)
{
    char buf[256], want[64];
    setenv("NAOS_RUN_DIR", "/run/naos-test", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    NT_EQ_INT(naos_default_run_dir(buf, sizeof buf), NAOS_OK);
    NT_EQ_STR(buf, "/run/naos-test");

    setenv("NAOS_RUN_DIR", "", 1); /* empty counts as unset */
    NT_EQ_INT(naos_default_run_dir(buf, sizeof buf), NAOS_OK);
    NT_EQ_STR(buf, "/run/user/1000/naos");

    unsetenv("NAOS_RUN_DIR");
    unsetenv("XDG_RUNTIME_DIR");
    NT_EQ_INT(naos_default_run_dir(buf, sizeof buf), NAOS_OK);
    snprintf(want, sizeof want, "/tmp/naos-%lu", (unsigned long)getuid());
    NT_EQ_STR(buf, want);

    char tiny[4];
    NT_EQ_INT(naos_default_run_dir(tiny, sizeof tiny), NAOS_ETOOBIG);
    NT_EQ_STR(tiny, "");
}

static void
test_ctl_url(void)
{
    char buf[256];
    NT_EQ_INT(naos_ctl_url("/run/naos", buf, sizeof buf), NAOS_OK);
    NT_EQ_STR(buf, "ipc:///run/naos/ctl.sock");
    NT_EQ_INT(naos_ctl_url("/run/naos", buf, 10), NAOS_ETOOBIG);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_rule),
        NT_CASE(test_ctl_url),
        {0},
    };
    return nt_run(cases);
}
