/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tools as a user runs them: a fork and exec per run, standard output and error read
 * through pipes while the tool runs (a tool that writes much must not block on a full pipe),
 * and its exit status.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>

#include "helpers/tool-run.h"

void proc_start(struct proc *p, const char *const *argv) {
        proc_start_as(p, argv, (uid_t) -1, (gid_t) -1);
}

void proc_start_as(struct proc *p, const char *const *argv, uid_t uid, gid_t gid) {
        int out[2], err[2];

        memset(p, 0, sizeof(*p));
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        fflush(NULL);
        p->pid = fork();
        ck_assert_int_ge(p->pid, 0);
        if (p->pid == 0) {
                dup2(out[1], STDOUT_FILENO);
                dup2(err[1], STDERR_FILENO);
                if (uid != (uid_t) -1 &&
                    (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)) {
                        fprintf(stderr, "cannot become %u:%u: %m\n", (unsigned) uid, (unsigned) gid);
                        _exit(127);
                }
                execv(argv[0], (char *const *) argv);
                fprintf(stderr, "exec %s: %m\n", argv[0]);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        p->out_fd = out[0];
        p->err_fd = err[0];
}

bool proc_read_until(struct proc *p, const char *needle, int timeout_ms) {
        long long deadline = test_now_ms() + timeout_ms;

        for (;;) {
                struct pollfd pfd = { p->out_fd, POLLIN, 0 };
                long long left;
                ssize_t k;

                p->out[p->n_out] = 0;
                if (strstr(p->out, needle))
                        return true;
                left = deadline - test_now_ms();
                if (left <= 0 || p->n_out >= sizeof(p->out) - 1)
                        return false;
                if (poll(&pfd, 1, (int) left) <= 0)
                        continue;
                k = read(p->out_fd, p->out + p->n_out, sizeof(p->out) - 1 - p->n_out);
                if (k <= 0)
                        return false;
                p->n_out += (size_t) k;
        }
}

void proc_finish(struct proc *p, struct run *r, int timeout_ms) {
        size_t n_out = p->n_out < sizeof(r->out) - 1 ? p->n_out : sizeof(r->out) - 1, n_err = 0;
        long long deadline = test_now_ms() + timeout_ms;
        bool out_open = true, err_open = true;

        memcpy(r->out, p->out, n_out);
        while ((out_open || err_open) && test_now_ms() < deadline) {
                struct pollfd pfd[2] = { { p->out_fd, POLLIN, 0 }, { p->err_fd, POLLIN, 0 } };
                if (!out_open)
                        pfd[0].fd = -1;
                if (!err_open)
                        pfd[1].fd = -1;
                if (poll(pfd, 2, 100) <= 0)
                        continue;
                if (pfd[0].revents) {
                        ssize_t k = read(p->out_fd, r->out + n_out, sizeof(r->out) - 1 - n_out);
                        if (k <= 0)
                                out_open = false;
                        else
                                n_out += (size_t) k;
                }
                if (pfd[1].revents) {
                        ssize_t k = read(p->err_fd, r->err + n_err, sizeof(r->err) - 1 - n_err);
                        if (k <= 0)
                                err_open = false;
                        else
                                n_err += (size_t) k;
                }
        }
        r->out[n_out] = 0;
        r->err[n_err] = 0;
        close(p->out_fd);
        close(p->err_fd);
        long long left = deadline - test_now_ms();
        r->status = test_wait(p->pid, left > 1000 ? (int) left : 1000);
        if (r->err[0])
                fprintf(stderr, "[%s stderr] %s", "tool", r->err);
}

void run_tool(struct run *r, const char *const *argv) {
        struct proc p;

        memset(r, 0, sizeof(*r));
        proc_start(&p, argv);
        proc_finish(&p, r, 30000);
}

void run_tool_stdin(struct run *r, const char *const *argv, const char *text) {
        struct proc p;
        int in[2], saved;

        memset(r, 0, sizeof(*r));
        ck_assert_int_eq(pipe(in), 0);
        ck_assert_int_eq(write(in[1], text, strlen(text)), (ssize_t) strlen(text));
        close(in[1]);
        saved = dup(STDIN_FILENO);
        dup2(in[0], STDIN_FILENO);
        close(in[0]);
        proc_start(&p, argv);
        dup2(saved, STDIN_FILENO);
        close(saved);
        proc_finish(&p, r, 30000);
}
