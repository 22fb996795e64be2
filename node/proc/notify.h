/* SPDX-License-Identifier: Apache-2.0 */
/* notify.h: the server side of the systemd notify protocol (sd_notify(3)).
 *
 * Workers find the socket path in NOTIFY_SOCKET and send datagrams of
 * newline-separated KEY=VALUE assignments. The node understands:
 *   READY=1                the worker is ready (ready: notify);
 *   STOPPING=1             the worker is shutting down;
 *   WATCHDOG=1             heartbeat; WATCHDOG=trigger asks for a watchdog
 *                          failure at once;
 *   STATUS=text            free text shown by `naos status` (sanitised,
 *                          at most PROC_NOTIFY_STATUS_MAX bytes);
 *   EXTEND_TIMEOUT_USEC=n  parsed and exposed; the core may ignore it.
 * Unknown keys, lines without '=', bad values and empty lines are ignored one
 * by one; the rest of the datagram still counts. File descriptors passed with
 * the datagram (FDSTORE=1) are closed at once: the node does not keep them.
 *
 * The sender is identified by the kernel (SCM_CREDENTIALS, SO_PASSCRED), not
 * by anything in the payload (MAINPID= is ignored). Mapping a sender to a
 * worker is the caller's job: each worker leads its own process group, so
 * proc_notify_sender_group(pid) gives the worker's pid for the worker and for
 * any helper process it started in its group (see WATCHDOG_PID in
 * proc/spawn.h).
 *
 * The socket is created mode 0600: workers run as the node's user. If naos
 * ever runs workers under other uids, the socket will need a group or 0666
 * plus an SO_PEERCRED-style uid check (msg.uid is already exposed).
 *
 * Thread: any (no global state); the node uses them on the reactor thread,
 * with the socket in its epoll set (level-triggered, EPOLLIN). */
#ifndef NAOS_PROC_NOTIFY_H
#define NAOS_PROC_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "node/base/err.h"

/* Datagrams larger than this are dropped whole (sd_notify messages are
 * tiny; systemd's own limit is larger, but nothing useful needs more). */
#define PROC_NOTIFY_MAX_DGRAM 4096
/* Maximum length of the STATUS= text kept, in bytes (without the NUL). */
#define PROC_NOTIFY_STATUS_MAX 256

/* PROC_NOTIFY_EMPTY: what proc_notify_recv returns when no datagram is
 * queued (EAGAIN). err.h has no NAOS_EAGAIN; NAOS_ENOTFOUND stands in. */
#define PROC_NOTIFY_EMPTY NAOS_ENOTFOUND

/* struct proc_notify_msg: one parsed datagram (caller storage). */
struct proc_notify_msg {
    int pid;         /* sender pid (in the node's pid namespace), from the
                        kernel; > 0 */
    unsigned uid;    /* sender uid, from the kernel */
    unsigned gid;
    bool ready;      /* READY=1 */
    bool stopping;   /* STOPPING=1 */
    bool watchdog;   /* WATCHDOG=1 */
    bool watchdog_trigger; /* WATCHDOG=trigger */
    bool has_status; /* STATUS= seen (the last one wins; may be "") */
    char status[PROC_NOTIFY_STATUS_MAX + 1]; /* NUL-terminated, printable:
                        control bytes and invalid UTF-8 become '?' */
    bool has_extend_timeout;
    uint64_t extend_timeout_usec; /* EXTEND_TIMEOUT_USEC=, when has_... */
};

/* proc_notify_open creates the notify socket: AF_UNIX, SOCK_DGRAM,
 * SOCK_CLOEXEC|SOCK_NONBLOCK, SO_PASSCRED on, bound at path (borrowed) with
 * mode 0600. A stale socket at path is unlinked first; any other kind of
 * file there is left alone (NAOS_EEXIST). The parent directory must exist.
 * On success *out_fd is the socket, owned by the caller (close it with
 * proc_notify_close). Returns NAOS_OK, NAOS_ETOOBIG (path longer than
 * sun_path allows), NAOS_EEXIST, or NAOS_ESYS (errno kept). */
int proc_notify_open(const char *path, int *out_fd);

/* proc_notify_close closes sock (if >= 0) and unlinks path (if not NULL). */
void proc_notify_close(int sock, const char *path);

/* proc_notify_recv reads one datagram from sock without blocking and parses
 * it into *msg (caller storage, fully overwritten on NAOS_OK).
 * Returns:
 *   NAOS_OK            a datagram was read: *msg is valid;
 *   PROC_NOTIFY_EMPTY  nothing is queued (EAGAIN): stop reading;
 *   NAOS_ETOOBIG       a datagram over PROC_NOTIFY_MAX_DGRAM was dropped;
 *   NAOS_EPROTO        a datagram without sender credentials was dropped;
 *   NAOS_ESYS          recvmsg failed (errno kept).
 * After NAOS_ETOOBIG or NAOS_EPROTO call again: more may be queued. */
int proc_notify_recv(int sock, struct proc_notify_msg *msg);

/* proc_notify_parse parses payload (len bytes, borrowed, need not be NUL-
 * terminated) into the fields of *msg; the credentials fields are left
 * alone. Never fails: what cannot be understood is ignored. Exposed for
 * tests and fuzzers. */
void proc_notify_parse(const char *payload, size_t len,
                       struct proc_notify_msg *msg);

/* proc_notify_sender_group returns the process group of pid (the worker's
 * pid, when the sender is a worker or one of its helpers), or -1 if the
 * sender has already exited (errno ESRCH): such messages cannot be
 * attributed and should be dropped, except that a worker's final READY=1
 * is then lost, as with systemd's sd_notify from short-lived helpers. */
int proc_notify_sender_group(int pid);

#endif
