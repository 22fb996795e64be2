/* SPDX-License-Identifier: Apache-2.0 */
/* guardian.h: a process outside the node's reactor that SIGKILLs the
 * node's workers when the node's lease runs out (issue 12).
 *
 * Why a separate process: the cluster moves a node's deployments elsewhere
 * once that node's lease has run out. For at most one copy of a deployment
 * to run, the old node's workers must be dead by then, even when naos-node
 * itself cannot act: stopped (SIGSTOP), frozen (cgroup freezer, a debugger),
 * starved of CPU, or stuck in a long store commit. The guardian is a small
 * process of its own (`naos-node guardian`, the same binary re-executed
 * through /proc/self/exe) that holds the deadline on CLOCK_BOOTTIME, which
 * keeps counting while the machine is suspended (CLOCK_MONOTONIC does not:
 * a lease measured on it would look valid after a night asleep), and
 * SIGKILLs every watched process group at `deadline - margin` unless the
 * node has moved the deadline since.
 *
 * The node's side (this header) never blocks: the channel is a
 * non-blocking AF_UNIX SOCK_SEQPACKET socketpair, one fixed-size record
 * (struct guardian_msg) per message; what the socket does not take at once
 * waits in the handle, in order, and goes out on guardian_flush when the
 * socket is writable again. Only the newest deadline is kept (it replaces
 * any unsent one) and it is sent ahead of queued watches, so a backlog of
 * registrations never delays an extension.
 *
 * Deadlines are absolute CLOCK_BOOTTIME times in ms (guardian_clock_now),
 * never "N ms from now": the node may be frozen between computing a
 * deadline and sending it, and the record may wait in the socket while the
 * guardian is starved. An absolute deadline means the same instant
 * whenever it is read; a relative one would be stretched by every such
 * delay, past the lease the cluster counts on. A deadline already past on
 * receipt kills at once, and an extension counts only if the guardian
 * reads it before the fire time (a guardian starved past it kills, even
 * with the node's extension waiting in the channel): extend well ahead
 * (e.g. at a third of the lease), and choose a margin that covers the
 * time SIGKILL takes to end a process (one in uninterruptible sleep dies
 * only when it wakes) and the clock-rate difference with the leader.
 *
 * Fail-safe rules (a lost or garbled message must end in a kill, never in
 * a missed one):
 *   - the node's end closed without a stop (naos-node died, kill -9): the
 *     guardian kills every watched group at once and exits (code 1), or,
 *     given a certify plan, and once its parent (the node) is seen gone
 *     (a channel closed by a live node certifies nothing), kills every
 *     process marked with the run, checks in /proc that none of those and
 *     none of the groups' is left (zombies aside, unless a thread of one
 *     lives on) and execs `naos-node certify`, which tells the cluster so
 *     (node/node_certify.c);
 *   - a record of the wrong size, an unknown type, a watch without its
 *     pidfd, an fd where none belongs: everything is killed, exit 100
 *     (the two ends are the same binary: this is corruption or a bug, and
 *     after it the guardian cannot tell what it was meant to keep alive);
 *   - an extension that cannot be sent yet waits in the handle: the
 *     guardian meanwhile keeps the older deadline, so it kills earlier,
 *     never later;
 *   - a watch the handle cannot queue (GUARDIAN_QUEUE_MAX records waiting)
 *     is refused (NAOS_EBUSY): the caller must not run that worker;
 *   - a watch past GUARDIAN_MAX_WATCH live groups in the guardian: that
 *     group is killed at once (after dropping entries whose groups are
 *     empty, which a lost unwatch leaves behind);
 *   - after the deadline, the guardian stays expired: a group watched then
 *     is killed on receipt, until an extension moves the deadline into the
 *     future again.
 *
 * Process groups, not pids, and never by number: each worker leads its own
 * session and process group (proc/spawn.h: setsid, pgid == pid), and a
 * worker's helpers stay in that group unless they leave it. The node hands
 * the guardian the leader's pidfd with each watch (SCM_RIGHTS), and the
 * guardian kills with pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP, Linux
 * 6.9), which signals the tasks whose group is that very struct pid: a
 * group id whose number was recycled after the group died is never hit,
 * and a group whose leader has exited (even reaped) while members remain
 * is still killed. On older kernels the guardian falls back to kill(-pgid)
 * while the leader's pidfd shows it alive or a zombie (then the number is
 * still pinned, so it is the same group), and skips a group whose leader
 * is gone (the node SIGKILLs a group before reaping its leader, so such a
 * group is empty in practice).
 *
 * What the guardian does not cover (the wiring's business, see
 * docs/architecture.md "The root supervisor"): a process that left its
 * worker's group (setsid) is not in any watched group; a worker between
 * its clone and the node's guardian_watch is not watched yet.
 *
 * Thread: one thread at a time per handle (the node's reactor). Nothing
 * here blocks except guardian_start (one posix_spawn, CLONE_VFORK: until
 * the exec) and guardian_free (bounded, see there). */
#ifndef NAOS_PROC_GUARDIAN_H
#define NAOS_PROC_GUARDIAN_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

/* GUARDIAN_NEVER: no deadline (a node that holds no lease: a lone voter,
 * no placements). The guardian then kills only on the node's death. */
#define GUARDIAN_NEVER UINT64_MAX
/* GUARDIAN_MAX_WATCH: the most process groups the guardian keeps (one
 * pidfd each; the guardian raises its soft RLIMIT_NOFILE to the hard one,
 * and lowers this bound to fit under it). 65,536 is over 6 times the
 * 10,000 workers one deployment may have (docs "Limits"). */
#define GUARDIAN_MAX_WATCH 65536
/* GUARDIAN_QUEUE_MAX: the most records the handle holds while the socket
 * is full (watches and unwatches; each queued watch holds a dup of the
 * leader's pidfd in the node). */
#define GUARDIAN_QUEUE_MAX (2 * GUARDIAN_MAX_WATCH)
/* GUARDIAN_FD: the fd number the guardian finds its end of the channel on
 * (it refuses to run if that is not an AF_UNIX SOCK_SEQPACKET socket). */
#define GUARDIAN_FD 3

/* Guardian process exit codes (s6's convention where one fits). */
#define GUARDIAN_EXIT_STOPPED 0   /* clean stop: nothing was killed */
#define GUARDIAN_EXIT_NODE_GONE 1 /* the channel closed: killed all, left */
#define GUARDIAN_EXIT_PROTOCOL 100 /* bad record or usage: killed all */
#define GUARDIAN_EXIT_SYSTEM 111  /* a system call failed: killed all */

/* enum guardian_msg_type: the record types, node -> guardian. */
enum guardian_msg_type {
    GUARDIAN_MSG_EXTEND = 1,  /* arg: the new deadline (ms, CLOCK_BOOTTIME,
                                 or GUARDIAN_NEVER); replaces the old one,
                                 earlier or later */
    GUARDIAN_MSG_WATCH = 2,   /* id: a pgid; carries the group leader's
                                 pidfd as SCM_RIGHTS; arg 1: killed only
                                 at the node's death, never at the
                                 deadline (guardian_watch_ex) */
    GUARDIAN_MSG_UNWATCH = 3, /* id: a pgid (unknown: ignored) */
    GUARDIAN_MSG_STOP = 4,    /* exit 0 now, without killing */
};

/* struct guardian_msg: one record on the channel, 16 bytes, host byte
 * order (both ends are the same binary on the same host). The only other
 * thing on the channel is the SCM_RIGHTS pidfd of a WATCH. */
struct guardian_msg {
    uint32_t type; /* enum guardian_msg_type */
    uint32_t id;   /* WATCH, UNWATCH: the pgid; otherwise 0 */
    uint64_t arg;  /* EXTEND: the deadline; otherwise 0 */
};
static_assert(sizeof(struct guardian_msg) == 16, "guardian_msg is 16 bytes");

/* struct guardian_opts: how guardian_start runs the guardian. Borrowed
 * for the call. */
struct guardian_opts {
    const char *exe;   /* the program to run as `EXE guardian ...`; NULL:
                          /proc/self/exe (naos-node itself, or a test
                          binary whose main calls guardian_main) */
    uint64_t deadline; /* first deadline (ms CLOCK_BOOTTIME) or
                          GUARDIAN_NEVER; sent as the first record */
    uint32_t margin;   /* ms: the guardian kills at deadline - margin */
    const char *certify_plan; /* NULL, or a file for `naos-node certify
                                 --plan FILE --instance HEX`: after the
                                 node's death (its process gone, not just
                                 the channel closed), once every watched
                                 group and every process marked with this
                                 run (below) is seen gone (zombies aside,
                                 within GUARDIAN_VERIFY_MS), the guardian
                                 execs that command, which tells the
                                 cluster */
    uint64_t certify_instance; /* the node's run: certify refuses a plan
                                  of another run, and the guardian kills
                                  every process whose environment holds
                                  GUARDIAN_RUN_ENV=<16 hex digits> (the
                                  node gives it to every worker: a helper
                                  that left its group still carries it) */
};
#define GUARDIAN_OPTS_ZERO {NULL, GUARDIAN_NEVER, 0, NULL, 0}
/* GUARDIAN_RUN_ENV: the environment variable that marks a run's workers
 * and everything they start (not what clears its environment). */
#define GUARDIAN_RUN_ENV "NAOS_NODE_RUN"
/* GUARDIAN_VERIFY_MS: how long the guardian looks for its killed groups
 * to be empty before it certifies the node's death (not empty by then: no
 * certificate; the cluster waits for the lease to run out). */
#define GUARDIAN_VERIFY_MS 1000

/* struct guardian: the node's handle on one guardian process (opaque). */
struct guardian;

/* guardian_clock_now reads CLOCK_BOOTTIME in ms: the clock of every
 * deadline here. Compute lease deadlines on it, not on naos_clock_now
 * (CLOCK_MONOTONIC stops while the machine is suspended). */
uint64_t guardian_clock_now(void);

/* guardian_start makes a socketpair and spawns the guardian (posix_spawn,
 * its own session so a signal to the node's group or terminal does not
 * reach it, every signal blocked, its end of the channel on GUARDIAN_FD,
 * no other fd above 2, argv {"naos-node", "guardian", "--margin", MS}),
 * then queues opts->deadline as the first record. On NAOS_OK *out is a
 * new handle (free with guardian_free). The guardian is a child of the
 * caller: a caller that reaps unknown children (the node's orphan sweep)
 * must count guardian_pid as known, or it will kill the guardian.
 * Returns NAOS_OK, NAOS_EINVAL (margin over 1 h), NAOS_ENOMEM, NAOS_ESYS
 * (errno kept: socketpair, posix_spawn, pidfd_open); *out is untouched on
 * error and no process is left behind. */
int guardian_start(struct guardian **out, const struct guardian_opts *opts);

/* guardian_fd is the node's end of the channel, for the caller's epoll:
 * wait for guardian_events(g). Valid until guardian_free. */
int guardian_fd(const struct guardian *g);

/* guardian_events: the epoll events to wait for on guardian_fd: always
 * EPOLLRDHUP (the guardian never writes; its end closing means it is
 * gone), and EPOLLOUT while records wait in the handle. Recompute after
 * every call that may queue (extend, watch, unwatch, stop, flush). */
uint32_t guardian_events(const struct guardian *g);

/* guardian_flush sends what waits in the handle, as much as the socket
 * takes without blocking. Call it when guardian_fd is writable, and on
 * EPOLLRDHUP/EPOLLHUP/EPOLLERR (it then notices the end).
 * Returns NAOS_OK (sent, or still waiting for room), or NAOS_ECLOSED: the
 * guardian is gone (it died, or was stopped). A node that holds a lease
 * without a guardian cannot keep its promise: it must stop its workers
 * itself (or start a new guardian and watch them all again). */
int guardian_flush(struct guardian *g);

/* guardian_extend sets the kill deadline to deadline (ms CLOCK_BOOTTIME;
 * GUARDIAN_NEVER: none). The guardian takes the latest value as is: an
 * earlier deadline than the current one kills earlier; 0 kills now.
 * Never fails for lack of room: an unsent deadline is replaced.
 * Returns NAOS_OK, or NAOS_ECLOSED after guardian_stop or once the
 * guardian is gone. */
int guardian_extend(struct guardian *g, uint64_t deadline);

/* guardian_watch registers the process group pgid (> 1) whose leader's
 * pidfd is pidfd (borrowed: the kernel, or the handle's queue, keeps its
 * own copy; a worker's proc_child.pidfd, pgid = its pid). Call it as soon
 * as the node knows the worker's pid, before anything else about it.
 * Watching a pgid already watched replaces the entry (its number was
 * recycled by a new group). Returns NAOS_OK, NAOS_EINVAL, NAOS_EBUSY (the
 * queue is full: the caller must not run this worker), NAOS_ESYS (dup of
 * pidfd) or NAOS_ECLOSED. */
int guardian_watch(struct guardian *g, int pgid, int pidfd);

/* guardian_watch_ex is guardian_watch; at_death_only: the group is
 * killed when the node dies, never at the deadline (a deployment that
 * runs on without a lease: `--on-partition keep`). */
int guardian_watch_ex(struct guardian *g, int pgid, int pidfd,
                      bool at_death_only);

/* guardian_unwatch forgets pgid (call after the worker's group is gone
 * and its leader reaped). A lost unwatch costs the guardian one slot
 * until it notices the group is empty, never a wrong kill.
 * Returns NAOS_OK, NAOS_EINVAL, NAOS_EBUSY (queue full: dropped, which is
 * safe) or NAOS_ECLOSED. */
int guardian_unwatch(struct guardian *g, int pgid);

/* guardian_stop asks the guardian to exit without killing (the node is
 * exiting and has stopped its workers itself). Queued after everything
 * else; the handle refuses further records. Returns NAOS_OK (sent or
 * queued: keep flushing on EPOLLOUT), or NAOS_ECLOSED. */
int guardian_stop(struct guardian *g);

/* guardian_pid is the guardian's pid; guardian_pidfd its pidfd (readable
 * once it has exited). Valid until guardian_free. */
int guardian_pid(const struct guardian *g);
int guardian_pidfd(const struct guardian *g);

/* guardian_free closes the channel and reaps the guardian, waiting for it
 * at most 1 s (call at shutdown only): if the stop was not delivered, the
 * guardian reads EOF and kills every group still watched (fail safe;
 * groups the node emptied are skipped harmlessly). A guardian that has not
 * exited within the wait is left to finish on its own (it is never
 * killed: that would skip its kills). *exit_code (may be NULL) gets its
 * exit status, or -1 if it did not exit normally in time. NULL is fine. */
void guardian_free(struct guardian *g, int *exit_code);

/* guardian_main is the guardian process (`naos-node guardian --margin
 * MS`, argv starting at "guardian"): blocks every signal, reads records
 * from GUARDIAN_FD and a CLOCK_BOOTTIME timerfd; never forks, uses
 * naos_base only. Logs what it kills to stderr. Returns its exit code
 * (GUARDIAN_EXIT_*). */
int guardian_main(int argc, char **argv);

#endif
