/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The message link and the stream transport over it (proto/message.h). Both queues are plain
 * byte buffers of whole frames: the in queue is cut into frames again by the stream (which
 * parses and limits them as for any socket), the out queue by pop(), from each frame's fixed
 * header. Buffers are freed whenever they drain, as the stream's are.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame-json.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "util/json-util.h"

#define MESSAGE_OUT_MAX_DEFAULT (64u * 1024u)

int mbus_message_link_new(struct mbus_message_link **ret, size_t out_max) {
        struct mbus_message_link *l;

        assert(ret);
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->n_ref = 1;
        l->out_max = out_max > 0 ? out_max : MESSAGE_OUT_MAX_DEFAULT;
        *ret = l;
        return 0;
}

struct mbus_message_link *mbus_message_link_ref(struct mbus_message_link *l) {
        if (l)
                l->n_ref++;
        return l;
}

struct mbus_message_link *mbus_message_link_unref(struct mbus_message_link *l) {
        if (!l || --l->n_ref > 0)
                return NULL;
        free(l->in);
        free(l->out);
        free(l);
        return NULL;
}

/* Appends len bytes to the queue buf [*start, *end) of capacity *cap, compacting first. */
static int message_append(uint8_t **buf, size_t *start, size_t *end, size_t *cap, const void *data,
                          size_t len) {
        size_t used = *end - *start;

        if (*start > 0) {
                memmove(*buf, *buf + *start, used);
                *start = 0;
                *end = used;
        }
        if (*cap - used < len) {
                size_t want = MAX(used + len, *cap * 2);
                uint8_t *p = realloc(*buf, want);

                if (!p)
                        return -ENOMEM;
                *buf = p;
                *cap = want;
        }
        memcpy(*buf + *end, data, len);
        *end += len;
        return 0;
}

static void message_release(uint8_t **buf, size_t *start, size_t *end, size_t *cap) {
        free(*buf);
        *buf = NULL;
        *start = *end = *cap = 0;
}

int mbus_message_link_push(struct mbus_message_link *l, const void *data, size_t len, bool text,
                           size_t max_frame_size, const char **ret_reason) {
        size_t size;
        int r;

        assert(l && (data || len == 0));

        if (!l->form_chosen) {
                l->text = text;
                l->form_chosen = true;
        }
        if (len > max_frame_size) {
                if (ret_reason)
                        *ret_reason = "message larger than the frame size limit";
                return -EMSGSIZE;
        }

        if (text) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;

                r = mbus_frame_from_json(&f, data, len, max_frame_size, ret_reason);
                if (r < 0)
                        return r;
                r = message_append(&l->in, &l->in_start, &l->in_end, &l->in_cap, f->head, f->head_len);
                if (r >= 0 && f->body_len > 0)
                        r = message_append(&l->in, &l->in_start, &l->in_end, &l->in_cap, f->body, f->body_len);
                return r;
        }

        /* Exactly one frame: the stream would take a frame split over messages, the protocol not. */
        r = mbus_frame_peek_size(data, len, max_frame_size, &size, ret_reason);
        if (r == -EAGAIN || (r >= 0 && size != len)) {
                if (ret_reason)
                        *ret_reason = "binary message is not exactly one frame";
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        return message_append(&l->in, &l->in_start, &l->in_end, &l->in_cap, data, len);
}

int mbus_message_link_pop(struct mbus_message_link *l, size_t headroom, uint8_t **ret, size_t *ret_len,
                          bool *ret_text) {
        _cleanup_free_ uint8_t *msg = NULL;
        size_t avail = l->out_end - l->out_start, size = 0, len;
        const uint8_t *p = l->out + l->out_start;
        int r;

        assert(l && ret && ret_len && ret_text);

        if (avail == 0)
                return 0;
        /* Only the broker's own stream writes here, whole frames: the header is trusted. */
        r = mbus_frame_peek_size(p, avail, SIZE_MAX, &size, NULL);
        assert(r >= 0 && size <= avail);
        if (r < 0 || size > avail)
                return -EBADMSG;

        if (l->text) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
                _cleanup_json_ json_object *o = NULL;
                const char *s;

                r = mbus_frame_parse(&f, p, size, SIZE_MAX, NULL);
                if (r < 0)
                        return r;
                r = mbus_frame_to_json(f, &o);
                if (r < 0)
                        return r;
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (!s)
                        return -ENOMEM;
                len = strlen(s);
                msg = malloc(headroom + len);
                if (!msg)
                        return -ENOMEM;
                memcpy(msg + headroom, s, len);
        } else {
                len = size;
                msg = malloc(headroom + len);
                if (!msg)
                        return -ENOMEM;
                memcpy(msg + headroom, p, len);
        }

        l->out_start += size;
        if (l->out_start == l->out_end)
                message_release(&l->out, &l->out_start, &l->out_end, &l->out_cap);
        *ret = TAKE_PTR(msg);
        *ret_len = len;
        *ret_text = l->text;
        return 1;
}

static ssize_t message_read(struct mbus_transport *t, void *buf, size_t size) {
        struct mbus_message_link *l = t->link;
        size_t n = MIN(size, l->in_end - l->in_start);

        if (n == 0)
                return l->eof ? 0 : -EAGAIN;
        memcpy(buf, l->in + l->in_start, n);
        l->in_start += n;
        if (l->in_start == l->in_end)
                message_release(&l->in, &l->in_start, &l->in_end, &l->in_cap);
        return (ssize_t) n;
}

static ssize_t message_writev(struct mbus_transport *t, const struct iovec *iov, size_t n_iov) {
        struct mbus_message_link *l = t->link;
        size_t total = 0;
        int r;

        if (l->eof)
                return -EPIPE;
        if (l->out_end - l->out_start >= l->out_max)
                return -EAGAIN;
        /* All or nothing, so the out queue never holds part of a frame. */
        for (size_t i = 0; i < n_iov; i++) {
                r = message_append(&l->out, &l->out_start, &l->out_end, &l->out_cap, iov[i].iov_base,
                                   iov[i].iov_len);
                if (r < 0) {
                        l->out_end -= total;
                        return r;
                }
                total += iov[i].iov_len;
        }
        if (total > 0 && l->on_output)
                l->on_output(l->userdata);
        return total > 0 ? (ssize_t) total : -EAGAIN;
}

static uint32_t message_events(const struct mbus_transport *t, bool have_output) {
        return 0;       /* nothing to poll: the link's owner does the socket I/O */
}

static bool message_pending(const struct mbus_transport *t) {
        return t->link->in_end > t->link->in_start;
}

static void message_done(struct mbus_transport *t) {
        t->link->stream_gone = true;
        if (t->link->on_output)
                t->link->on_output(t->link->userdata);  /* the owner may close once drained */
        t->link = mbus_message_link_unref(t->link);
}

static const struct mbus_transport_ops message_ops = {
        .name = "message",
        .read = message_read,
        .writev = message_writev,
        .events = message_events,
        .pending = message_pending,
        .done = message_done,
};

void mbus_transport_init_message(struct mbus_transport *t, struct mbus_message_link *l) {
        assert(t && l);
        *t = (struct mbus_transport) { .ops = &message_ops, .fd = -EBADF, .link = mbus_message_link_ref(l) };
}
