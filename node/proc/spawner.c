/* SPDX-License-Identifier: Apache-2.0 */
/* spawner.c: proc_spawn on a thread of its own (spawner.h). */
#include "node/proc/spawner.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/time.h"

/* ---- jobs: one allocation holding the options' strings ------------------ */

struct pack {
    char *at;   /* next free byte (NULL while measuring) */
    size_t size;
};

static char *
pack_str(struct pack *p, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *out = p->at;
    if (out != NULL) {
        memcpy(out, s, n);
        p->at += n;
    }
    p->size += n;
    return out;
}

/* pack_vec copies a NULL-terminated vector (NULL stays NULL). Vectors are
 * packed before any string, so their pointers stay aligned. */
static char **
pack_vec(struct pack *p, char *const *v)
{
    if (v == NULL)
        return NULL;
    size_t n = 0;
    while (v[n] != NULL)
        n++;
    char **out = (char **)(void *)p->at;
    if (out != NULL)
        p->at += (n + 1) * sizeof *out;
    p->size += (n + 1) * sizeof *out;
    return out; /* its strings are packed after every vector */
}

static void
pack_vec_strings(struct pack *p, char **dst, char *const *src)
{
    if (src == NULL)
        return;
    size_t i = 0;
    for (; src[i] != NULL; i++) {
        char *s = pack_str(p, src[i]);
        if (dst != NULL)
            dst[i] = s;
    }
    if (dst != NULL)
        dst[i] = NULL;
}

/* pack_job lays out a job for o at p (measures when p->at is NULL). */
static void
pack_job(struct pack *p, struct proc_spawn_job *job,
         const struct proc_spawn_opts *o)
{
    char **argv = pack_vec(p, o->argv);
    char **env = pack_vec(p, o->env);
    char **extra = pack_vec(p, o->extra_env);
    pack_vec_strings(p, argv, o->argv);
    pack_vec_strings(p, env, o->env);
    pack_vec_strings(p, extra, o->extra_env);
    char *cwd = pack_str(p, o->cwd);
    struct proc_naos_env ne = PROC_NAOS_ENV_ZERO;
    if (o->naos != NULL) {
        ne = *o->naos;
        ne.agent = pack_str(p, o->naos->agent);
        ne.node = pack_str(p, o->naos->node);
        ne.restart_reason = pack_str(p, o->naos->restart_reason);
        ne.notify_socket = pack_str(p, o->naos->notify_socket);
    }
    if (job == NULL)
        return;
    job->opts.argv = argv;
    job->opts.env = env;
    job->opts.extra_env = extra;
    job->opts.cwd = cwd;
    job->opts.out_fd = o->out_fd;
    job->naos = ne;
    job->opts.naos = o->naos != NULL ? &job->naos : NULL;
}

struct proc_spawn_job *
proc_spawn_job_new(const struct proc_spawn_opts *o, void *tag)
{
    struct pack p = {NULL, 0};
    pack_job(&p, NULL, o);
    size_t head = (sizeof(struct proc_spawn_job) + 15) & ~(size_t)15;
    struct proc_spawn_job *job = naos_alloc(head + p.size);
    if (job == NULL)
        return NULL;
    p = (struct pack){(char *)job + head, 0};
    pack_job(&p, job, o);
    job->tag = tag;
    job->rc = ECANCELED;
    job->child = (struct proc_child)PROC_CHILD_ZERO;
    return job;
}

void
proc_spawn_job_free(struct proc_spawn_job *job)
{
    if (job == NULL)
        return;
    if (job->opts.out_fd >= 0)
        close(job->opts.out_fd);
    naos_free(job);
}

/* ---- the thread --------------------------------------------------------- */

static void *
spawner_main(void *arg)
{
    struct proc_spawner *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while ((s->todo == NULL || s->hold_wanted) && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->stop)
            break;
        struct proc_spawn_job *job = s->todo;
        s->todo = job->next;
        if (s->todo == NULL)
            s->todo_tail = NULL;
        job->next = NULL;
        pthread_mutex_unlock(&s->mu);

        /* From before the clone until the job is on the done list, a child
         * may exist that nobody can find: the orphan sweep waits. */
        pthread_mutex_lock(&s->making);
        uint64_t t_begin = naos_clock_now_us();
        job->rc = proc_spawn(&job->opts, &job->child);
        job->made_wall_ms = naos_clock_wall_ms();
        job->made_mono_us = naos_clock_now_us();
        job->spawn_us = job->made_mono_us - t_begin;
        if (job->opts.out_fd >= 0) {
            close(job->opts.out_fd); /* the child has its copy */
            job->opts.out_fd = -1;
        }
        pthread_mutex_lock(&s->mu);
        if (s->done_tail != NULL)
            s->done_tail->next = job;
        else
            s->done = job;
        s->done_tail = job;
        uint64_t one = 1;
        ssize_t w = write(s->efd, &one, sizeof one);
        (void)w; /* the counter cannot overflow: it is read at each take */
        pthread_mutex_unlock(&s->making);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int
proc_spawner_start(struct proc_spawner *s)
{
    memset(s, 0, sizeof *s);
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd < 0)
        return NAOS_ESYS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->making, NULL);
    pthread_cond_init(&s->cv, NULL);
    /* The thread takes no signal (the node reads its signals from a
     * signalfd; a handler must never run in a child sharing our memory). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, spawner_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(s->efd);
        s->efd = -1;
        errno = rc;
        return NAOS_ESYS;
    }
    s->started = true;
    return NAOS_OK;
}

int
proc_spawner_fd(const struct proc_spawner *s)
{
    return s->efd;
}

void
proc_spawner_submit(struct proc_spawner *s, struct proc_spawn_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->todo_tail != NULL)
        s->todo_tail->next = job;
    else
        s->todo = job;
    s->todo_tail = job;
    s->in_flight++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

struct proc_spawn_job *
proc_spawner_take(struct proc_spawner *s)
{
    uint64_t count;
    pthread_mutex_lock(&s->mu);
    ssize_t r = read(s->efd, &count, sizeof count);
    (void)r; /* EAGAIN when nothing was written: nothing done */
    struct proc_spawn_job *list = s->done;
    for (struct proc_spawn_job *j = list; j != NULL; j = j->next)
        s->in_flight--;
    s->done = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return list;
}

bool
proc_spawner_busy(struct proc_spawner *s)
{
    pthread_mutex_lock(&s->mu);
    bool busy = s->in_flight > 0;
    pthread_mutex_unlock(&s->mu);
    return busy;
}

static void
want(struct proc_spawner *s, bool on)
{
    pthread_mutex_lock(&s->mu);
    if (s->hold_wanted != on) {
        s->hold_wanted = on;
        if (!on)
            pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

bool
proc_spawner_settle(struct proc_spawner *s, int timeout_ms)
{
    if (pthread_mutex_trylock(&s->making) != 0) {
        want(s, true); /* no next spawn before we had our turn */
        struct timespec until; /* monotonic: a stepped wall clock must
                                  not stretch the wait */
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = pthread_mutex_clocklock(&s->making, CLOCK_MONOTONIC, &until);
        want(s, false);
        if (rc != 0)
            return false;
    }
    pthread_mutex_unlock(&s->making);
    return true;
}

bool
proc_spawner_hold(struct proc_spawner *s)
{
    if (pthread_mutex_trylock(&s->making) == 0)
        return true;
    want(s, true);
    return false;
}

void
proc_spawner_release(struct proc_spawner *s)
{
    pthread_mutex_unlock(&s->making);
    want(s, false);
}

void
proc_spawner_unwant(struct proc_spawner *s)
{
    want(s, false);
}

bool
proc_spawner_owns_pid(struct proc_spawner *s, int pid)
{
    bool owns = false;
    pthread_mutex_lock(&s->mu);
    for (struct proc_spawn_job *j = s->done; j != NULL && !owns; j = j->next)
        owns = j->rc == 0 && j->child.pid == pid;
    pthread_mutex_unlock(&s->mu);
    return owns;
}

struct proc_spawn_job *
proc_spawner_stop(struct proc_spawner *s)
{
    if (!s->started)
        return NULL;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->started = false;
    /* Done ones first, then those never run (rc ECANCELED). */
    struct proc_spawn_job *list = s->done;
    if (s->done_tail != NULL)
        s->done_tail->next = s->todo;
    else
        list = s->todo;
    s->done = s->done_tail = s->todo = s->todo_tail = NULL;
    s->in_flight = 0;
    close(s->efd);
    s->efd = -1;
    pthread_mutex_destroy(&s->making);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    return list;
}
