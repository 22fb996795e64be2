/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/err.h"

const char *
naos_strerror(int err)
{
    switch (err) {
    case NAOS_OK: return "success";
    case NAOS_ENOMEM: return "out of memory";
    case NAOS_EINVAL: return "invalid argument";
    case NAOS_ENOTFOUND: return "not found";
    case NAOS_EEXIST: return "already exists";
    case NAOS_EBUSY: return "busy";
    case NAOS_ECLOSED: return "closed";
    case NAOS_ETIMEDOUT: return "timed out";
    case NAOS_EAUTH: return "authentication failed";
    case NAOS_ESTORE: return "storage failure";
    case NAOS_EPROTO: return "protocol error";
    case NAOS_ESYS: return "system error";
    case NAOS_ETOOBIG: return "too big";
    case NAOS_ESTALE: return "stale epoch";
    default: return "unknown error";
    }
}
