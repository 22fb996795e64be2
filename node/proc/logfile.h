/* SPDX-License-Identifier: Apache-2.0 */
/* logfile.h: a worker's stdout/stderr captured into a size-bounded,
 * rotated log file, and the reader behind `naos logs`.
 *
 * Writer side (reactor thread): the node creates a pipe per worker
 * (pipe2(O_CLOEXEC|O_NONBLOCK)), passes the write end to proc_spawn as
 * out_fd and closes its copy, watches the read end with epoll
 * (level-triggered) and calls proc_logfile_pump when it is readable. Helpers
 * of the worker inherit the write end, so EOF can come after the worker's
 * exit (or never, if a helper escaped; the orphan sweep kills those).
 *
 * Files: `path` (root/rel) is the current file; `path.1` the previous
 * one, up to `path.<keep>`. When a write would take the current file past
 * max_bytes, the files shift (path.<keep-1> -> path.<keep>, ..., path ->
 * path.1, the oldest is replaced) and a new empty `path` is started. A
 * single write is split only if it is bigger than max_bytes, so no file
 * ever exceeds max_bytes. keep = 0 keeps no old file (path is just restarted).
 *
 * Reader side (any thread, no shared state: it only opens files): see
 * proc_logfile_read. */
#ifndef NAOS_PROC_LOGFILE_H
#define NAOS_PROC_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROC_LOGFILE_DEFAULT_MAX_BYTES (10u * 1024u * 1024u) /* 10 MiB */
#define PROC_LOGFILE_DEFAULT_KEEP 3u
#define PROC_LOGFILE_MAX_KEEP 99u
/* proc_logfile_pump moves at most this much per call. */
#define PROC_LOGFILE_PUMP_MAX (256u * 1024u)

/* struct proc_logfile: opaque; one per worker. */
struct proc_logfile;

/* proc_logfile_open opens (creates, mode 0600) the log rel (borrowed,
 * e.g. "dep/sub/worker.log") below the directory root (borrowed, e.g.
 * DATA/logs, which must exist) for appending. Every directory of rel is
 * reached without following links and missing ones are created with mode
 * 0700; the file itself must be a regular file of ours with one link
 * (node/base/safefile.h), so nothing planted there is written through.
 * Later reopens (after proc_logfile_release, or a rotation) create no
 * directory: once the deployment's directory is removed, output is
 * dropped. root and rel are copied. max_bytes 0 means the default;
 * keep > PROC_LOGFILE_MAX_KEEP is capped. An existing file is appended to
 * (its size counts toward max_bytes). On success *out is set (free with
 * proc_logfile_close). Returns NAOS_OK, NAOS_EINVAL (empty root or rel,
 * rel absolute or with an empty, "." or ".." component, or the file is
 * refused: errno ELOOP, EMLINK or EPERM), NAOS_ENOMEM, or NAOS_ESYS (errno
 * kept; *out untouched). Thread: reactor. */
int proc_logfile_open(struct proc_logfile **out, const char *root,
                      const char *rel, uint64_t max_bytes, unsigned keep);

/* proc_logfile_release closes lf's file descriptor until the next write,
 * which reopens the file (and re-reads its size). A node holds one per
 * worker otherwise: release it when a run ends, so quiet workers cost no
 * log fd. Thread: reactor. */
void proc_logfile_release(struct proc_logfile *lf);

/* proc_logfile_close closes and frees lf. NULL is fine. */
void proc_logfile_close(struct proc_logfile *lf);

/* proc_logfile_write appends len bytes of buf (borrowed), rotating as
 * described above. A rotation falls at a line's end (the file may stay
 * below max_bytes); only a line longer than max_bytes is split. Returns NAOS_OK, or NAOS_ESYS (errno kept) when a write
 * or rotation failed: the bytes not written are lost (counted in
 * proc_logfile_dropped) and the next call tries again (reopening the file
 * if a rotation left it closed). Thread: reactor. */
int proc_logfile_write(struct proc_logfile *lf, const void *buf, size_t len);

/* proc_logfile_pump reads what is available on the non-blocking pipe read
 * end rd_fd (borrowed) and appends it, until EAGAIN, EOF, or
 * PROC_LOGFILE_PUMP_MAX bytes (so one chatty worker cannot starve the loop;
 * with level-triggered epoll the fd stays readable and the rest comes next
 * round). *eof is set to true when the write end is closed by everyone: the
 * caller then stops watching and closes rd_fd. Write errors do not stop the
 * draining (a full disk must not block the worker on a full pipe): the data
 * is dropped and counted. Returns NAOS_OK, or NAOS_ESYS when read() failed
 * with something other than EAGAIN/EINTR (errno kept; *eof untouched).
 * Thread: reactor. */
int proc_logfile_pump(struct proc_logfile *lf, int rd_fd, bool *eof);

/* proc_logfile_size: bytes in the current file. */
uint64_t proc_logfile_size(const struct proc_logfile *lf);
/* proc_logfile_dropped: bytes lost to write errors since open. */
uint64_t proc_logfile_dropped(const struct proc_logfile *lf);

/* proc_logfile_read reads a chunk of the current log file at path
 * (borrowed), for the control endpoint. buf/cap is a caller buffer + length
 * (cap is the most returned per call); *len receives the bytes stored.
 *   offset >= 0: read from offset. If offset is beyond the file's size the
 *     file was rotated since the client's last read: *rotated is set and
 *     reading restarts at 0.
 *   offset < 0: tail mode: start so that the last tail_lines lines are
 *     included (a final line without '\n' counts as a line; tail_lines 0
 *     starts at the end, to follow new output only). If those lines are
 *     longer than cap, the first cap bytes from that start are returned.
 * *next_offset is where the next call should continue (start + *len); the
 * client has caught up when a call returns *len == 0.
 * Only the current file is read: the rotated path.1 is not stitched in, so a
 * tail right after a rotation may show fewer lines. A rotation is detected
 * only by size: if the new file has grown past the client's old offset
 * before it asks again, the client silently skips the start of the new file
 * (poll at least once per max_bytes of output).
 * A symbolic link, FIFO or anything but a regular file at path is not
 * read (NAOS_ESYS; ELOOP or EPERM).
 * Returns NAOS_OK, NAOS_ENOTFOUND (no such file yet), NAOS_EINVAL, or
 * NAOS_ESYS. Thread: any. */
int proc_logfile_read(const char *path, int64_t offset, unsigned tail_lines,
                      char *buf, size_t cap, size_t *len,
                      int64_t *next_offset, bool *rotated);

#endif
