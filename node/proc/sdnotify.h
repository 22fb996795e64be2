/* SPDX-License-Identifier: Apache-2.0 */
/* sdnotify.h: the client side of the systemd notify protocol, for the node
 * itself when a service manager runs it (`Type=notify` in
 * naos-node.service). The server side, for the node's own workers, is
 * notify.h.
 *
 * proc_sdnotify_take reads NOTIFY_SOCKET once, at start, and removes it
 * from the environment (workers inherit the node's environment and must
 * not talk to the node's own supervisor). The node then says READY=1 once
 * it serves (every listener bound, deployments restored) and STOPPING=1
 * when it begins a graceful stop.
 *
 * Thread: the reactor's (or main before it runs). No global state besides
 * the caller's struct. */
#ifndef NAOS_PROC_SDNOTIFY_H
#define NAOS_PROC_SDNOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

/* struct proc_sdnotify: where to send; addr_len 0 = no service manager. */
struct proc_sdnotify {
    struct sockaddr_un addr;
    socklen_t addr_len;
};

#define PROC_SDNOTIFY_ZERO ((struct proc_sdnotify){.addr_len = 0})

/* proc_sdnotify_take fills sn from $NOTIFY_SOCKET (a path, or "@name" for
 * the abstract namespace) and unsets NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID. Returns false (sn zeroed) when there is none or it is
 * unusable (too long: warned on stderr). */
bool proc_sdnotify_take(struct proc_sdnotify *sn);

/* proc_sdnotify_send sends one datagram of newline-separated assignments
 * (e.g. "READY=1\nSTATUS=serving"), borrowed. A no-op without a service
 * manager. Returns 0, or the errno of the failed send (the caller logs;
 * the node runs on either way). */
int proc_sdnotify_send(const struct proc_sdnotify *sn, const char *msg);

#endif
