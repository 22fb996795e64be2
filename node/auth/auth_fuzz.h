/* SPDX-License-Identifier: Apache-2.0 */
/* auth_fuzz.h: the fixed keys and clock the fuzz targets of node/auth use,
 * shared with the seed generator (cluster-tests/fuzz/seedgen.c) so that its
 * seed envelopes open in the targets. Test material only: these keys are
 * public. Not part of the naos_auth API. */
#ifndef NAOS_AUTH_AUTH_FUZZ_H
#define NAOS_AUTH_AUTH_FUZZ_H

#define AUTH_FUZZ_CLUSTER 0x6e616f73u /* "naos" */
#define AUTH_FUZZ_NOW 1700000000000LL /* wall clock ms the targets use */
#define AUTH_FUZZ_KEY1_BYTE 0x11      /* key 1 (primary): 32 x 0x11 */
#define AUTH_FUZZ_KEY2_BYTE 0x22      /* key 2 (installed): 32 x 0x22 */
#define AUTH_FUZZ_KEY3_BYTE 0x33      /* key 3: never installed */

#endif
