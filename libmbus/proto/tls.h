/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* TLS over a non-blocking socket: contexts from certificate files, and a TLS transport. */

/*
 * Both sides use OpenSSL 3 with TLS 1.2 as the minimum (1.3 preferred, as negotiated). A
 * context is built once from files (certificate, key, CA bundle, optional CRL) and shared,
 * reference-counted, by every connection made with it, so a reload that builds a new context
 * leaves connected peers on the old one until they leave. A server context requires and
 * verifies a client certificate unless told otherwise; a client context always verifies the
 * server's certificate and the name it was asked to reach.
 */

#include <stdbool.h>
#include <stddef.h>

#include "proto/transport.h"
#include "util/macro.h"

struct mbus_tls_context;

struct mbus_tls_files {
        const char *cert;               /* PEM certificate (chain); a server needs one */
        const char *key;                /* PEM private key of cert; NULL: in the cert file */
        const char *ca;                 /* PEM CA bundle to verify the other side; NULL: system store (client) */
        const char *crl;                /* PEM CRL checked against the other side's certificate; may be NULL */
};

#define MBUS_TLS_REASON_MAX 256

/*
 * Builds a context. server: accept connections, requiring a client certificate unless
 * optional_client_cert. Returns 0, or a negative errno with a reason for a person in
 * reason (which file, and OpenSSL's word on it): -ENOENT/-EACCES for a file, -EINVAL for a
 * file OpenSSL rejects, -ENOMEM.
 */
int mbus_tls_context_new(struct mbus_tls_context **ret, const struct mbus_tls_files *files, bool server,
                         bool optional_client_cert, char reason[static MBUS_TLS_REASON_MAX]);
struct mbus_tls_context *mbus_tls_context_ref(struct mbus_tls_context *ctx);
struct mbus_tls_context *mbus_tls_context_unref(struct mbus_tls_context *ctx);
MBUS_DEFINE_CLEANUP(struct mbus_tls_context *, mbus_tls_context_unref);

/*
 * Puts a TLS connection over fd into t (which must hold a plain socket transport or nothing).
 * verify_name: for a client, the host name or IP literal the server's certificate must name;
 * NULL for a server. Returns 0 or -ENOMEM. The handshake runs later, step by step, through
 * mbus_transport_handshake().
 */
int mbus_transport_init_tls(struct mbus_transport *t, struct mbus_tls_context *ctx, int fd,
                            const char *verify_name);

/*
 * Why the last handshake, read or write of t failed, for a person: OpenSSL's reason and, for
 * a certificate, the verification result ("certificate has expired"). "" if nothing failed.
 */
const char *mbus_tls_reason(const struct mbus_transport *t);

/* The protocol version of an established connection ("TLSv1.3"), or NULL. */
const char *mbus_tls_version(const struct mbus_transport *t);

/* True if the session was resumed rather than fully negotiated. */
bool mbus_tls_session_reused(const struct mbus_transport *t);

/* What the other side's certificate says. Strings are owned by the struct. */
struct mbus_tls_identity {
        char *cn;                       /* subject common name; NULL if none */
        char *issuer;                   /* issuer, one line (RFC 2253) */
        char *fingerprint;              /* SHA-256 of the DER certificate, 64 lowercase hex digits */
        char **sans;                    /* "DNS:name", "URI:uri", "email:addr", "IP:addr" */
        size_t n_sans;
};

/*
 * Reads the verified certificate of the other side of an established connection. Returns 0,
 * -ENODATA if it sent none, or -ENOMEM.
 */
int mbus_tls_get_identity(const struct mbus_transport *t, struct mbus_tls_identity *ret);
void mbus_tls_identity_done(struct mbus_tls_identity *id);

/* The same for a TLS connection that other code runs (WebSocket over TLS, daemon/listener-ws.c). */
struct ssl_st;
int mbus_tls_get_identity_ssl(struct ssl_st *ssl, struct mbus_tls_identity *ret);

/*
 * Adds the CRLs of the PEM file path to ctx's store and turns CRL checking on, as
 * mbus_tls_context_new() does with files->crl. Returns 0 or a negative errno with reason.
 */
struct ssl_ctx_st;
int mbus_tls_ctx_load_crl(struct ssl_ctx_st *ctx, const char *path, char reason[static MBUS_TLS_REASON_MAX]);
