/* SPDX-License-Identifier: Apache-2.0 */
/* sim_rng.h: the randomness every simulator shares (sim.c for SWIM,
 * raft_sim.c for Raft-lite): splitmix64, so one seed replays one run
 * exactly, and the NAOS_SIM_SEED override of a run's seed. */
#ifndef NAOS_SIM_RNG_H
#define NAOS_SIM_RNG_H

#include <stdint.h>
#include <stdlib.h>

/* sim_splitmix64 advances *x and returns the next 64 random bits. */
static inline uint64_t
sim_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* sim_unit turns 64 random bits into a double in [0, 1). */
static inline double
sim_unit(uint64_t bits)
{
    return (double)(bits >> 11) * (1.0 / 9007199254740992.0);
}

/* sim_env_seed: NAOS_SIM_SEED when set (replaying a printed seed), else
 * dflt. */
static inline uint64_t
sim_env_seed(uint64_t dflt)
{
    const char *e = getenv("NAOS_SIM_SEED");
    return e && *e ? strtoull(e, NULL, 0) : dflt;
}

#endif
