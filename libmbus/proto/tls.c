/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TLS transport. Every operation is non-blocking: OpenSSL's WANT_READ and WANT_WRITE
 * become -EAGAIN, and the direction OpenSSL is waiting for is remembered so that events()
 * asks for EPOLLOUT when a read (a TLS 1.3 key update, a post-handshake ticket) needs to write.
 *
 * Memory: SSL_MODE_RELEASE_BUFFERS gives OpenSSL's record buffers back whenever they are
 * empty, so an idle TLS peer holds its SSL object and nothing more.
 *
 * Writes: the stream hands over frames as head+body iovecs, often dozens of small ones. They
 * are copied into one record-sized chunk per SSL_write_ex(), so small frames share records.
 * When OpenSSL cannot finish a record it keeps it and reports nothing written; the stream then
 * offers the same bytes again from the same frame, which is what OpenSSL requires of a retry
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the copy to sit elsewhere).
 *
 * Reads: SSL_read_ex() until the buffer is full or OpenSSL wants more from the socket. A record
 * may be decrypted only partly into a nearly full buffer: pending() then tells the owner to
 * read again without polling.
 *
 * Resumption: a server context issues TLS 1.3 tickets (OpenSSL's default); a client context
 * keeps the last session it was given and offers it on its next connection.
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "proto/tls.h"
#include "util/macro.h"

#define TLS_CHUNK_SIZE 16384u           /* one record's plaintext */

struct mbus_tls_context {
        unsigned n_ref;
        SSL_CTX *ctx;
        bool server;
        SSL_SESSION *session;           /* client: the session to resume, owned */
};

struct mbus_tls {
        SSL *ssl;
        struct mbus_tls_context *ctx;   /* a reference */
        bool established;
        bool want_write;                /* the last operation waits for the socket to take bytes */
        char reason[MBUS_TLS_REASON_MAX];
};

static int tls_fail(char *reason, int r, const char *what, const char *file) {
        unsigned long e = ERR_peek_last_error();
        char buf[160] = "";

        if (e != 0)
                ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        (void) snprintf(reason, MBUS_TLS_REASON_MAX, "%s%s%s%s%s", what, file ? " " : "", file ?: "",
                        buf[0] ? ": " : "", buf);
        return r;
}

/* A file OpenSSL cannot use: name the errno if the file itself is the problem. */
static int tls_file_errno(const char *path) {
        FILE *f = fopen(path, "re");

        if (!f)
                return errno == ENOENT || errno == EACCES ? -errno : -EINVAL;
        fclose(f);
        return -EINVAL;
}

static int tls_on_new_session(SSL *ssl, SSL_SESSION *session) {
        struct mbus_tls_context *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

        if (!c || c->server)
                return 0;
        if (c->session)
                SSL_SESSION_free(c->session);
        c->session = session;
        return 1;               /* we keep the reference */
}

int mbus_tls_ctx_load_crl(SSL_CTX *ctx, const char *path, char reason[static MBUS_TLS_REASON_MAX]) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509_CRL *crl;
        BIO *bio;
        int n = 0;

        bio = BIO_new_file(path, "r");
        if (!bio)
                return tls_fail(reason, tls_file_errno(path), "Cannot read the CRL", path);
        while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
                int ok = X509_STORE_add_crl(store, crl);

                X509_CRL_free(crl);
                if (!ok) {
                        BIO_free(bio);
                        return tls_fail(reason, -EINVAL, "Cannot use the CRL", path);
                }
                n++;
        }
        BIO_free(bio);
        if (n == 0)
                return tls_fail(reason, -EINVAL, "No CRL in", path);
        ERR_clear_error();      /* the end of the file shows as an error */
        (void) X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
        return 0;
}

int mbus_tls_context_new(struct mbus_tls_context **ret, const struct mbus_tls_files *files, bool server,
                         bool optional_client_cert, char reason[static MBUS_TLS_REASON_MAX]) {
        struct mbus_tls_context *c;
        SSL_CTX *ctx;
        int r;

        assert(ret && files);
        reason[0] = 0;

        if (server && !files->cert) {
                (void) snprintf(reason, MBUS_TLS_REASON_MAX, "A TLS listener needs a certificate and key");
                return -EINVAL;
        }
        if (server && !files->ca && !optional_client_cert) {
                (void) snprintf(reason, MBUS_TLS_REASON_MAX,
                                "A TLS listener needs a CA bundle to verify client certificates");
                return -EINVAL;
        }

        ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
        if (!ctx)
                return tls_fail(reason, -ENOMEM, "Cannot create a TLS context", NULL);

        (void) SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        /* A peer that closes without close_notify is a hang-up, not a protocol error. */
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);

        if (files->cert) {
                const char *key = files->key ?: files->cert;

                if (SSL_CTX_use_certificate_chain_file(ctx, files->cert) != 1) {
                        r = tls_fail(reason, tls_file_errno(files->cert), "Cannot use the certificate",
                                     files->cert);
                        goto fail;
                }
                if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
                        r = tls_fail(reason, tls_file_errno(key), "Cannot use the private key", key);
                        goto fail;
                }
                if (SSL_CTX_check_private_key(ctx) != 1) {
                        r = tls_fail(reason, -EINVAL, "The private key does not match the certificate", key);
                        goto fail;
                }
        }

        if (files->ca) {
                if (SSL_CTX_load_verify_locations(ctx, files->ca, NULL) != 1) {
                        r = tls_fail(reason, tls_file_errno(files->ca), "Cannot use the CA bundle", files->ca);
                        goto fail;
                }
        } else if (!server && SSL_CTX_set_default_verify_paths(ctx) != 1) {
                r = tls_fail(reason, -EINVAL, "Cannot use the system's CA store", NULL);
                goto fail;
        }

        if (files->crl) {
                r = mbus_tls_ctx_load_crl(ctx, files->crl, reason);
                if (r < 0)
                        goto fail;
        }

        if (server) {
                static const unsigned char sid_ctx[] = "mbus";

                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (optional_client_cert ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
                                   NULL);
                /* Resumed sessions carry the verified client certificate along. */
                (void) SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
                /* TLS 1.3 tickets are stateless: the client holds its session. A server-side cache
                 * would keep every peer's session, certificate included, for nothing. */
                SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        } else {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
                SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
                SSL_CTX_sess_set_new_cb(ctx, tls_on_new_session);
        }

        c = calloc(1, sizeof(*c));
        if (!c) {
                r = -ENOMEM;
                goto fail;
        }
        c->n_ref = 1;
        c->ctx = ctx;
        c->server = server;
        (void) SSL_CTX_set_app_data(ctx, c);
        *ret = c;
        return 0;

fail:
        SSL_CTX_free(ctx);
        return r;
}

struct mbus_tls_context *mbus_tls_context_ref(struct mbus_tls_context *c) {
        if (c)
                c->n_ref++;
        return c;
}

struct mbus_tls_context *mbus_tls_context_unref(struct mbus_tls_context *c) {
        if (!c || --c->n_ref > 0)
                return NULL;
        if (c->session)
                SSL_SESSION_free(c->session);
        SSL_CTX_free(c->ctx);
        free(c);
        return NULL;
}

/* Records why an operation failed; returns the errno for the stream. */
static int tls_error(struct mbus_tls *tls, int ret, int fallback) {
        int err = SSL_get_error(tls->ssl, ret);
        unsigned long e;
        long v;

        tls->want_write = err == SSL_ERROR_WANT_WRITE;
        switch (err) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
                return -EAGAIN;
        case SSL_ERROR_ZERO_RETURN:
                return -ECONNRESET;
        case SSL_ERROR_SYSCALL:
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return -EAGAIN;
                (void) snprintf(tls->reason, sizeof(tls->reason), "%s",
                                errno ? strerror(errno) : "connection closed");
                return errno ? -errno : -ECONNRESET;
        default:
                break;
        }

        e = ERR_peek_last_error();
        v = SSL_get_verify_result(tls->ssl);
        if (v != X509_V_OK)
                (void) snprintf(tls->reason, sizeof(tls->reason), "certificate verification failed: %s",
                                X509_verify_cert_error_string(v));
        else if (e != 0) {
                const char *rs = ERR_reason_error_string(e);

                (void) snprintf(tls->reason, sizeof(tls->reason), "%s", rs ?: "TLS error");
        } else
                (void) snprintf(tls->reason, sizeof(tls->reason), "TLS error %i", err);
        ERR_clear_error();
        return fallback;
}

static ssize_t tls_read(struct mbus_transport *t, void *buf, size_t size) {
        struct mbus_tls *tls = t->tls;
        size_t total = 0;
        int r = 0;

        while (total < size) {
                size_t n = 0;
                int k;

                ERR_clear_error();
                k = SSL_read_ex(tls->ssl, (uint8_t *) buf + total, size - total, &n);
                if (k > 0) {
                        total += n;
                        tls->want_write = false;
                        continue;
                }
                r = tls_error(tls, k, -EPROTO);
                break;
        }
        if (total > 0)
                return (ssize_t) total;
        return r == -ECONNRESET ? 0 : r;
}

static ssize_t tls_writev(struct mbus_transport *t, const struct iovec *iov, size_t n_iov) {
        struct mbus_tls *tls = t->tls;
        uint8_t chunk[TLS_CHUNK_SIZE];
        size_t total = 0, i = 0, off = 0;
        int r = -EAGAIN;

        for (;;) {
                size_t len = 0, n = 0;
                int k;

                while (i < n_iov && len < sizeof(chunk)) {
                        size_t take = MIN(iov[i].iov_len - off, sizeof(chunk) - len);

                        memcpy(chunk + len, (const uint8_t *) iov[i].iov_base + off, take);
                        len += take;
                        off += take;
                        if (off == iov[i].iov_len) {
                                i++;
                                off = 0;
                        }
                }
                if (len == 0)
                        break;

                ERR_clear_error();
                k = SSL_write_ex(tls->ssl, chunk, len, &n);
                if (k <= 0) {
                        r = tls_error(tls, k, -EPROTO);
                        break;
                }
                tls->want_write = false;
                total += n;
                if (n < len)
                        break;
        }
        if (total > 0)
                return (ssize_t) total;
        return r == -ECONNRESET ? -EPIPE : r;
}

static uint32_t tls_events(const struct mbus_transport *t, bool have_output) {
        return EPOLLIN | (have_output || t->tls->want_write ? EPOLLOUT : 0);
}

static int tls_handshake(struct mbus_transport *t) {
        struct mbus_tls *tls = t->tls;
        int k, r;

        if (tls->established)
                return 0;
        ERR_clear_error();
        k = SSL_do_handshake(tls->ssl);
        if (k == 1) {
                tls->established = true;
                tls->want_write = false;
                return 0;
        }
        r = tls_error(tls, k, -EPROTO);
        if (r == -ECONNRESET && !tls->reason[0])
                (void) snprintf(tls->reason, sizeof(tls->reason), "connection closed during the handshake");
        return r;
}

static bool tls_pending(const struct mbus_transport *t) {
        return SSL_has_pending(t->tls->ssl);
}

static void tls_shutdown(struct mbus_transport *t) {
        struct mbus_tls *tls = t->tls;

        /* A close_notify tells the other side the end is deliberate, not a truncation. */
        if (tls->established) {
                ERR_clear_error();
                (void) SSL_shutdown(tls->ssl);
                ERR_clear_error();
        }
}

static void tls_done(struct mbus_transport *t) {
        struct mbus_tls *tls = t->tls;

        if (!tls)
                return;
        SSL_free(tls->ssl);
        mbus_tls_context_unref(tls->ctx);
        free(tls);
        t->tls = NULL;
}

static const struct mbus_transport_ops tls_ops = {
        .name = "tls",
        .read = tls_read,
        .writev = tls_writev,
        .events = tls_events,
        .handshake = tls_handshake,
        .pending = tls_pending,
        .shutdown = tls_shutdown,
        .done = tls_done,
};

static bool tls_is_ip(const char *name) {
        struct in6_addr a6;

        return inet_pton(AF_INET, name, &a6) == 1 || inet_pton(AF_INET6, name, &a6) == 1;
}

int mbus_transport_init_tls(struct mbus_transport *t, struct mbus_tls_context *ctx, int fd,
                            const char *verify_name) {
        struct mbus_tls *tls;

        assert(t && ctx && fd >= 0);

        tls = calloc(1, sizeof(*tls));
        if (!tls)
                return -ENOMEM;
        tls->ssl = SSL_new(ctx->ctx);
        if (!tls->ssl || SSL_set_fd(tls->ssl, fd) != 1)
                goto oom;

        if (ctx->server)
                SSL_set_accept_state(tls->ssl);
        else {
                SSL_set_connect_state(tls->ssl);
                if (verify_name) {
                        if (tls_is_ip(verify_name)) {
                                if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls->ssl), verify_name) != 1)
                                        goto oom;
                        } else if (SSL_set1_host(tls->ssl, verify_name) != 1 ||
                                   SSL_set_tlsext_host_name(tls->ssl, verify_name) != 1)
                                goto oom;
                }
                if (ctx->session)
                        (void) SSL_set_session(tls->ssl, ctx->session);
        }

        tls->ctx = mbus_tls_context_ref(ctx);
        mbus_transport_done(t);
        *t = (struct mbus_transport) { .ops = &tls_ops, .fd = fd, .tls = tls };
        return 0;

oom:
        ERR_clear_error();
        SSL_free(tls->ssl);
        free(tls);
        return -ENOMEM;
}

const char *mbus_tls_reason(const struct mbus_transport *t) {
        return t && t->tls ? t->tls->reason : "";
}

const char *mbus_tls_version(const struct mbus_transport *t) {
        return t && t->tls && t->tls->established ? SSL_get_version(t->tls->ssl) : NULL;
}

bool mbus_tls_session_reused(const struct mbus_transport *t) {
        return t && t->tls && t->tls->established && SSL_session_reused(t->tls->ssl);
}

static char *tls_asn1_string(const ASN1_STRING *s) {
        unsigned char *utf8 = NULL;
        char *ret;
        int n;

        n = ASN1_STRING_to_UTF8(&utf8, s);
        if (n < 0)
                return NULL;
        /* A name with an embedded NUL is not a name anyone can write in a rule. */
        if (memchr(utf8, 0, (size_t) n)) {
                OPENSSL_free(utf8);
                return NULL;
        }
        ret = strndup((const char *) utf8, (size_t) n);
        OPENSSL_free(utf8);
        return ret;
}

static int tls_add_san(struct mbus_tls_identity *id, const char *prefix, char *value) {
        char **sans, *s;

        if (!value)
                return 0;       /* not representable: skipped rather than misread */
        if (asprintf(&s, "%s:%s", prefix, value) < 0) {
                free(value);
                return -ENOMEM;
        }
        free(value);
        sans = realloc(id->sans, (id->n_sans + 1) * sizeof(*sans));
        if (!sans) {
                free(s);
                return -ENOMEM;
        }
        id->sans = sans;
        id->sans[id->n_sans++] = s;
        return 0;
}

static int tls_read_sans(X509 *cert, struct mbus_tls_identity *id) {
        GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
        int r = 0;

        if (!names)
                return 0;
        for (int i = 0; r >= 0 && i < sk_GENERAL_NAME_num(names); i++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
                char ip[INET6_ADDRSTRLEN];

                switch (g->type) {
                case GEN_DNS:
                        r = tls_add_san(id, "DNS", tls_asn1_string(g->d.dNSName));
                        break;
                case GEN_URI:
                        r = tls_add_san(id, "URI", tls_asn1_string(g->d.uniformResourceIdentifier));
                        break;
                case GEN_EMAIL:
                        r = tls_add_san(id, "email", tls_asn1_string(g->d.rfc822Name));
                        break;
                case GEN_IPADD:
                        if (g->d.iPAddress->length == 4 || g->d.iPAddress->length == 16) {
                                int af = g->d.iPAddress->length == 4 ? AF_INET : AF_INET6;

                                if (inet_ntop(af, g->d.iPAddress->data, ip, sizeof(ip)))
                                        r = tls_add_san(id, "IP", strdup(ip));
                        }
                        break;
                default:
                        break;
                }
        }
        GENERAL_NAMES_free(names);
        return r;
}

int mbus_tls_get_identity(const struct mbus_transport *t, struct mbus_tls_identity *ret) {
        assert(t && ret);
        if (!t->tls || !t->tls->established)
                return -ENODATA;
        return mbus_tls_get_identity_ssl(t->tls->ssl, ret);
}

int mbus_tls_get_identity_ssl(SSL *ssl, struct mbus_tls_identity *ret) {
        struct mbus_tls_identity id = {};
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        X509_NAME *subject;
        X509 *cert;
        BIO *bio;
        int idx, r;

        assert(ssl && ret);
        /* Only a verified certificate is an identity (the handshake fails otherwise, but a
         * context that does not require one may let an unverified one through). */
        if (SSL_get_verify_result(ssl) != X509_V_OK)
                return -ENODATA;
        cert = SSL_get1_peer_certificate(ssl);
        if (!cert)
                return -ENODATA;

        r = -ENOMEM;
        subject = X509_get_subject_name(cert);
        idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        if (idx >= 0)
                id.cn = tls_asn1_string(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));

        bio = BIO_new(BIO_s_mem());
        if (!bio)
                goto fail;
        if (X509_NAME_print_ex(bio, X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
                char *p;
                long n = BIO_get_mem_data(bio, &p);

                id.issuer = strndup(p, (size_t) MAX(n, 0L));
        }
        BIO_free(bio);
        if (!id.issuer)
                goto fail;

        if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1)
                goto fail;
        id.fingerprint = malloc(md_len * 2 + 1);
        if (!id.fingerprint)
                goto fail;
        for (unsigned i = 0; i < md_len; i++)
                (void) snprintf(id.fingerprint + 2 * i, 3, "%02x", md[i]);

        r = tls_read_sans(cert, &id);
        if (r < 0)
                goto fail;

        X509_free(cert);
        *ret = id;
        return 0;

fail:
        ERR_clear_error();
        X509_free(cert);
        mbus_tls_identity_done(&id);
        return r;
}

void mbus_tls_identity_done(struct mbus_tls_identity *id) {
        if (!id)
                return;
        free(id->cn);
        free(id->issuer);
        free(id->fingerprint);
        for (size_t i = 0; i < id->n_sans; i++)
                free(id->sans[i]);
        free(id->sans);
        *id = (struct mbus_tls_identity) {};
}
