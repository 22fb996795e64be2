/* SPDX-License-Identifier: Apache-2.0 */
/* client_test.c: a request over the node's size limit is refused before
 * anything is sent (no connection is even tried: the URL here leads
 * nowhere, and the answer is not "cannot reach"). */
#include "cli/client.h"

#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"

static void
test_request_over_the_limit_is_not_sent(void)
{
    static uint8_t data[NAOS_CLIENT_MAX_REQUEST];
    Naos__V1__CheckpointSaveRequest sr = NAOS__V1__CHECKPOINT_SAVE_REQUEST__INIT;
    sr.name = "a/b";
    sr.data.data = data;
    sr.data.len = sizeof data;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_CHECKPOINT_SAVE;
    req.checkpoint_save = &sr;
    size_t packed = naos__v1__request__get_packed_size(&req);
    NT_TRUE(packed > NAOS_CLIENT_MAX_REQUEST);
    Naos__V1__Reply *out = NULL;
    char err[512] = "";
    NT_EQ_INT(naos_client_call("ipc:///nonexistent/naos/ctl.sock", &req, &out,
                               1000, err, sizeof err),
              NAOS_ETOOBIG);
    NT_TRUE(out == NULL);
    char want[96];
    snprintf(want, sizeof want, "request of %zu bytes exceeds the %u-byte",
             packed, NAOS_CLIENT_MAX_REQUEST);
    NT_CONTAINS(err, want);
    NT_CONTAINS(err, "nothing was sent");

    /* At the limit it goes on to the node (here nobody: an error about
     * reaching it, whatever it is, but not the size). */
    sr.data.len = sizeof data - 64;
    NT_TRUE(naos__v1__request__get_packed_size(&req) <=
            NAOS_CLIENT_MAX_REQUEST);
    int rc = naos_client_call("ipc:///nonexistent/naos/ctl.sock", &req, &out,
                              1000, err, sizeof err);
    NT_TRUE(rc != NAOS_OK && rc != NAOS_ETOOBIG);
    NT_TRUE(strstr(err, "exceeds") == NULL);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_request_over_the_limit_is_not_sent),
        {0},
    };
    return nt_run(cases);
}
