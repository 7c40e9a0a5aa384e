#ifndef SCALEKIT_COPENSSL_SHIM_H
#define SCALEKIT_COPENSSL_SHIM_H

/* The system's OpenSSL (Debian 12: 3.0), for Redis over TLS: libpq already
   links it for PostgreSQL's TLS. The functions below wrap macros Swift
   cannot import. */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* SNI: the host name the client asks the server's certificate for. */
static inline int scalekit_ssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/* Refuse anything older than TLS 1.2. */
static inline int scalekit_ssl_ctx_require_tls12(SSL_CTX *context) {
    return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
}

#endif
