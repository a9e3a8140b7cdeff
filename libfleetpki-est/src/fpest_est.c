/*
 * The EST client: one TLS connection per request (Mbed TLS over the port's socket), a request,
 * the answer read into the caller's buffer and parsed, then the EST checks.
 */
#include <stdio.h>
#include <string.h>

#include "fleetpki_est.h"
#include "fpest_compat.h"
#include "fpest_internal.h"
#include "mbedtls/base64.h"
#include "mbedtls/entropy.h"
#include "mbedtls/error.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/oid.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_TOTAL_MS 30000u

const char *fpest_strerror(int err) {
    switch (err) {
    case FPEST_OK: return "ok";
    case FPEST_PENDING: return "the request waits for an operator: send the same CSR again after Retry-After seconds";
    case FPEST_ERR_ARG: return "a required argument is missing or out of range";
    case FPEST_ERR_CONNECT: return "cannot reach the server: check host, port and the network";
    case FPEST_ERR_TLS: return "the TLS connection failed (see the Mbed TLS error)";
    case FPEST_ERR_TLS_UNTRUSTED: return "the server's TLS certificate does not chain to the pinned root or names another host: check the root pin and the server name";
    case FPEST_ERR_TIMEOUT: return "the server did not answer in time: try again later";
    case FPEST_ERR_HTTP_MALFORMED: return "the server's answer is not valid HTTP/1.1";
    case FPEST_ERR_HTTP_TOO_LARGE: return "the server's answer does not fit the receive buffer: give fpest_config a larger buffer";
    case FPEST_ERR_HTTP_TRUNCATED: return "the connection ended before the whole answer arrived: try again";
    case FPEST_ERR_HTTP_STATUS: return "the server refused the request (see the HTTP status and detail)";
    case FPEST_ERR_CONTENT_TYPE: return "the answer has a content type EST does not use here";
    case FPEST_ERR_BASE64: return "the answer body is not base64";
    case FPEST_ERR_PKCS7: return "the answer is not a certs-only PKCS#7 or a certificate in it does not parse";
    case FPEST_ERR_NO_CERT: return "the answer holds no certificate";
    case FPEST_ERR_WRONG_KEY: return "the issued certificate certifies another key than this device's: refused";
    case FPEST_ERR_WRONG_SUBJECT: return "the issued certificate names another subject than this device's id: refused";
    case FPEST_ERR_UNTRUSTED_CHAIN: return "the issued certificate does not chain to the pinned root (or is not valid now): refused";
    case FPEST_ERR_ROOT_PIN: return "cacerts holds no root with the pinned fingerprint: refused; check the fingerprint given to the device";
    case FPEST_ERR_NO_ROOT: return "no root is pinned: pin the firmware's root or bootstrap with cacerts and a fingerprint first";
    case FPEST_ERR_CSRATTRS: return "csrattrs is not readable or asks for a key this device cannot make";
    case FPEST_ERR_KEY: return "the key interface failed or the key type is not supported";
    case FPEST_ERR_BUFFER: return "an output buffer is too small";
    case FPEST_ERR_STORAGE: return "the storage callback failed";
    case FPEST_ERR_CRYPTO: return "an Mbed TLS crypto operation failed";
    case FPEST_ERR_KEY_TLS: return "this callback-only key cannot sign a TLS handshake here: with Mbed TLS 3.x use a PSA opaque key (mbedtls_pk_setup_opaque) for an EC key; RSA needs MBEDTLS_PK_RSA_ALT_SUPPORT";
    case FPEST_ERR_NO_CREDENTIAL: return "no valid certificate (none yet, or expired) and no bootstrap credential: give the enrollment secret or the IDevID";
    default: return "unknown error";
    }
}

static int port_entropy(void *ctx, unsigned char *out, size_t len, size_t *olen) {
    const fpest_port *io = (const fpest_port *) ctx;
    return io->entropy(io->ctx, out, len, olen);
}

int fpest_init(fpest_client *c, const fpest_config *cfg) {
    if (c == NULL || cfg == NULL || cfg->host == NULL || cfg->io == NULL || cfg->buf == NULL || cfg->buf_len < 1024
        || cfg->io->connect == NULL || cfg->io->send == NULL || cfg->io->recv == NULL || cfg->io->close == NULL || cfg->io->entropy == NULL) {
        return FPEST_ERR_ARG;
    }
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (c->cfg.timeout_ms == 0) c->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (c->cfg.total_timeout_ms == 0) c->cfg.total_timeout_ms = DEFAULT_TOTAL_MS;
    mbedtls_x509_crt_init(&c->root);
    mbedtls_x509_crt_init(&c->cas);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
#if defined(FPEST_MBEDTLS3) && defined(MBEDTLS_PSA_CRYPTO_C)
    if (psa_crypto_init() != PSA_SUCCESS) return FPEST_ERR_CRYPTO;
#endif
    int ret = mbedtls_entropy_add_source(&c->entropy, port_entropy, (void *) c->cfg.io, 32, MBEDTLS_ENTROPY_SOURCE_STRONG);
    if (ret == 0) {
        static const unsigned char pers[] = "libfleetpki-est";
        ret = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, pers, sizeof pers - 1);
    }
    if (ret != 0) {
        c->mbedtls_err = ret;
        fpest_free(c);
        return FPEST_ERR_CRYPTO;
    }
    return FPEST_OK;
}

void fpest_free(fpest_client *c) {
    if (c == NULL) return;
    mbedtls_x509_crt_free(&c->root);
    mbedtls_x509_crt_free(&c->cas);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
}

int fpest_pin_root(fpest_client *c, const unsigned char *buf, size_t len) {
    if (c == NULL || buf == NULL) return FPEST_ERR_ARG;
    mbedtls_x509_crt root;
    mbedtls_x509_crt_init(&root);
    int ret = mbedtls_x509_crt_parse(&root, buf, len);
    if (ret != 0 || root.next != NULL) { /* exactly one certificate */
        c->mbedtls_err = ret;
        mbedtls_x509_crt_free(&root);
        return FPEST_ERR_PKCS7;
    }
    mbedtls_x509_crt_free(&c->root);
    c->root = root;
    c->have_root = 1;
    return FPEST_OK;
}

/* ---- one exchange: connect, TLS, request, answer ---- */

typedef struct exchange {
    const char *method, *op, *content_type; /* op: "cacerts", "simpleenroll" ... */
    const unsigned char *body;              /* DER: sent base64-encoded */
    size_t body_len;
    const char *user, *secret;              /* HTTP basic */
    mbedtls_x509_crt *client_cert;
    fpest_key *client_key;
    int bootstrap;                          /* TLS server certificate checked afterwards (cacerts with a pin) */
    mbedtls_x509_crt *peer;                 /* bootstrap: receives the server's certificate */
} exchange;

static int64_t now_s(const fpest_client *c) { return c->cfg.io->now ? c->cfg.io->now(c->cfg.io->ctx) : -1; }

static int write_all(mbedtls_ssl_context *ssl, const unsigned char *p, size_t len) {
    while (len > 0) {
        int n = mbedtls_ssl_write(ssl, p, len);
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        if (n <= 0) return n;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* The problem detail (RFC 9457) if the body is problem+json, else its first printable characters. */
static void keep_detail(fpest_client *c, const fpest_http_resp *r) {
    const unsigned char *b = r->body, *end = r->body + r->body_len;
    size_t n = 0;
    static const char key[] = "\"detail\":\"";
    for (const unsigned char *p = b; p + sizeof key - 1 <= end; p++) {
        if (memcmp(p, key, sizeof key - 1) == 0) { b = p + sizeof key - 1; break; }
    }
    for (const unsigned char *p = b; p < end && n + 1 < sizeof c->detail; p++) {
        if (*p == '"' && b != r->body) break;
        if (*p == '\\' && p + 1 < end) p++;
        c->detail[n++] = (char) (*p >= 32 && *p < 127 ? *p : ' ');
    }
    c->detail[n] = 0;
}

static int tls_open(fpest_client *c, fpest_tls *t, const char *host, uint16_t port, mbedtls_x509_crt *cert, fpest_key *key, int bootstrap) {
    const fpest_port *io = c->cfg.io;
    memset(t, 0, sizeof *t);
    t->io = io;
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_ssl_init(&t->ssl);
    if (!c->have_root && !bootstrap) return FPEST_ERR_NO_ROOT;
#ifndef FPEST_OPAQUE_TLS
    /* Mbed TLS 3.x signs TLS handshakes with a pk it owns: give it a PSA opaque key (mbedtls_pk_setup_opaque) */
    if (key != NULL && key->opaque == 1) return FPEST_ERR_KEY_TLS;
#endif
    if (key != NULL && key->pk == key->pub && key->opaque == 2) return FPEST_ERR_KEY_TLS; /* RSA without MBEDTLS_PK_RSA_ALT_SUPPORT */
    if (io->connect(io->ctx, host, port, c->cfg.timeout_ms, &t->conn) != 0) {
        t->conn = NULL;
        return FPEST_ERR_CONNECT;
    }
    int ret;
    if ((ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) goto fail;
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_read_timeout(&t->conf, c->cfg.timeout_ms);
    if (c->have_root) {
        mbedtls_ssl_conf_ca_chain(&t->conf, &c->root, NULL);
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_OPTIONAL); /* bootstrap: checked against the pinned fingerprint after */
    }
    if (cert != NULL && key != NULL && (ret = mbedtls_ssl_conf_own_cert(&t->conf, cert, key->pk)) != 0) goto fail;
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    /* TLS 1.3 asks an RSA client key for RSA-PSS, which an RSA-alt (PKCS#1 v1.5) callback cannot give */
    if (key != NULL && key->opaque == 2) mbedtls_ssl_conf_max_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
    if ((ret = mbedtls_ssl_setup(&t->ssl, &t->conf)) != 0) goto fail;
    if ((ret = mbedtls_ssl_set_hostname(&t->ssl, host)) != 0) goto fail;
    mbedtls_ssl_set_bio(&t->ssl, t->conn, io->send, NULL, io->recv);
    while ((ret = mbedtls_ssl_handshake(&t->ssl)) != 0) {
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
            c->tls_flags = mbedtls_ssl_get_verify_result(&t->ssl);
            fpest_tls_close(t);
            return FPEST_ERR_TLS_UNTRUSTED;
        }
        goto fail;
    }
    return FPEST_OK;
fail:
    c->mbedtls_err = ret;
    fpest_tls_close(t);
    return ret == MBEDTLS_ERR_SSL_TIMEOUT ? FPEST_ERR_TIMEOUT : FPEST_ERR_TLS;
}

int fpest_tls_open(fpest_client *c, fpest_tls *t, const char *host, uint16_t port, mbedtls_x509_crt *cert, fpest_key *key) {
    if (c == NULL || t == NULL || host == NULL) return FPEST_ERR_ARG;
    c->mbedtls_err = 0;
    c->tls_flags = 0;
    return tls_open(c, t, host, port, cert, key, 0);
}

void fpest_tls_close(fpest_tls *t) {
    if (t == NULL) return;
    if (t->conn != NULL) {
        mbedtls_ssl_close_notify(&t->ssl);
        t->io->close(t->conn);
        t->conn = NULL;
    }
    mbedtls_ssl_free(&t->ssl);
    mbedtls_ssl_config_free(&t->conf);
}

static int run(fpest_client *c, const exchange *x, fpest_http_resp *r) {
    unsigned char *buf = c->cfg.buf;
    size_t cap = c->cfg.buf_len;
    int64_t deadline = now_s(c) < 0 ? -1 : now_s(c) + (int64_t) (c->cfg.total_timeout_ms + 999) / 1000;
    c->http_status = 0;
    c->retry_after = 0;
    c->mbedtls_err = 0;
    c->tls_flags = 0;
    c->detail[0] = 0;
    if (!c->have_root && !x->bootstrap) return FPEST_ERR_NO_ROOT;
    int rc;

    /* the request, built in the receive buffer (the answer overwrites it) */
    char auth[200] = "";
    if (x->user != NULL) {
        unsigned char cred[140];
        size_t olen;
        int n = snprintf((char *) cred, sizeof cred, "%s:%s", x->user, x->secret);
        memcpy(auth, "Authorization: Basic ", 21);
        int bad = n < 0 || (size_t) n >= sizeof cred
                  || mbedtls_base64_encode((unsigned char *) auth + 21, sizeof auth - 24, &olen, cred, (size_t) n) != 0;
        mbedtls_platform_zeroize(cred, sizeof cred);
        if (bad) {
            mbedtls_platform_zeroize(auth, sizeof auth);
            return FPEST_ERR_ARG; /* an id and secret over 139 bytes together */
        }
        memcpy(auth + 21 + olen, "\r\n", 3);
    }
    size_t b64_len = x->body ? 4 * ((x->body_len + 2) / 3) : 0;
    int head = snprintf((char *) buf, cap,
                        "%s /.well-known/est%s%s/%s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: libfleetpki-est/" FPEST_VERSION
                        "\r\nAccept: */*\r\n%sConnection: close\r\n",
                        x->method, c->cfg.label ? "/" : "", c->cfg.label ? c->cfg.label : "", x->op, c->cfg.host, (unsigned) c->cfg.port, auth);
    if (head < 0 || (size_t) head >= cap) {
        mbedtls_platform_zeroize(buf, cap);
        mbedtls_platform_zeroize(auth, sizeof auth);
        return FPEST_ERR_BUFFER;
    }
    int n = x->body ? snprintf((char *) buf + head, cap - (size_t) head, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                               x->content_type, b64_len)
                    : snprintf((char *) buf + head, cap - (size_t) head, "\r\n");
    if (n < 0 || (size_t) head + (size_t) n + b64_len + 1 > cap) {
        mbedtls_platform_zeroize(buf, cap);
        mbedtls_platform_zeroize(auth, sizeof auth);
        return FPEST_ERR_BUFFER;
    }
    head += n;
    mbedtls_platform_zeroize(auth, sizeof auth);
    if (x->body) {
        size_t olen;
        if (mbedtls_base64_encode(buf + head, cap - (size_t) head, &olen, x->body, x->body_len) != 0) {
            mbedtls_platform_zeroize(buf, cap); /* the request line and headers hold the secret */
            return FPEST_ERR_BUFFER;
        }
        head += (int) olen;
    }

    fpest_tls t;
    rc = tls_open(c, &t, c->cfg.host, c->cfg.port, x->client_cert, x->client_key, x->bootstrap);
    if (rc != FPEST_OK) {
        mbedtls_platform_zeroize(buf, (size_t) head);
        return rc;
    }
    mbedtls_ssl_context *ssl = &t.ssl;
    int ret;
    if (x->bootstrap && x->peer != NULL) {
        const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(ssl);
        if (peer == NULL || mbedtls_x509_crt_parse_der(x->peer, peer->raw.p, peer->raw.len) != 0) { rc = FPEST_ERR_TLS_UNTRUSTED; goto done; }
    }
    ret = write_all(ssl, buf, (size_t) head);
    mbedtls_platform_zeroize(buf, (size_t) head); /* the request held the secret */
    if (ret != 0) goto tls_fail;

    size_t len = 0;
    int eof = 0;
    for (;;) {
        rc = fpest_http_parse(buf, len, eof, r);
        if (rc != FPEST_ERR_HTTP_TRUNCATED || eof) break;
        if (len == cap) { rc = FPEST_ERR_HTTP_TOO_LARGE; break; }
        if (deadline >= 0 && now_s(c) > deadline) { rc = FPEST_ERR_TIMEOUT; break; }
        ret = mbedtls_ssl_read(ssl, buf + len, cap - len);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue; /* TLS 1.3: not kept, one request per connection */
#endif
        if (ret == MBEDTLS_ERR_SSL_TIMEOUT) { rc = FPEST_ERR_TIMEOUT; break; }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_NET_CONN_RESET) { eof = 1; continue; }
        if (ret < 0) goto tls_fail;
        len += (size_t) ret;
    }
    if (rc == FPEST_OK) {
        c->http_status = r->status;
        if (r->has_retry_after) c->retry_after = r->retry_after;
    }
    goto done;
tls_fail:
    c->mbedtls_err = ret;
    rc = ret == MBEDTLS_ERR_SSL_TIMEOUT ? FPEST_ERR_TIMEOUT : FPEST_ERR_TLS;
done:
    fpest_tls_close(&t);
    return rc;
}

/* An answer of 200 with the expected type, its base64 body decoded in place; else the error. */
static int expect(fpest_client *c, fpest_http_resp *r, const char *type, unsigned char **der, size_t *der_len) {
    if (r->status != 200) {
        keep_detail(c, r);
        if (r->status == 202) {
            c->retry_after = r->has_retry_after ? r->retry_after : 60;
            return FPEST_PENDING;
        }
        return FPEST_ERR_HTTP_STATUS;
    }
    if (strncmp(r->content_type, type, strlen(type)) != 0) return FPEST_ERR_CONTENT_TYPE;
    *der = (unsigned char *) r->body;
    return fpest_base64_inplace(*der, r->body_len, der_len);
}

static int is_self_signed(const mbedtls_x509_crt *crt) {
    return crt->subject_raw.len == crt->issuer_raw.len && memcmp(crt->subject_raw.p, crt->issuer_raw.p, crt->subject_raw.len) == 0;
}

/* Verify the certificate `der` against root, with the CAs in `cas` as intermediates (and that it names `host`, unless NULL). */
static int verify_with(fpest_client *c, const unsigned char *der, size_t der_len, mbedtls_x509_crt *cas, mbedtls_x509_crt *root,
                       const char *host) {
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    int rc = mbedtls_x509_crt_parse_der(&chain, der, der_len) == 0 ? FPEST_OK : FPEST_ERR_PKCS7;
    for (mbedtls_x509_crt *ca = cas; rc == FPEST_OK && ca != NULL && ca->raw.len > 0; ca = ca->next) {
        if (ca->raw.p != der && mbedtls_x509_crt_parse_der(&chain, ca->raw.p, ca->raw.len) != 0) rc = FPEST_ERR_PKCS7;
    }
    uint32_t flags = 0;
    if (rc == FPEST_OK && mbedtls_x509_crt_verify(&chain, root, NULL, host, &flags, NULL, NULL) != 0) {
        c->tls_flags = flags;
        rc = FPEST_ERR_UNTRUSTED_CHAIN;
    }
    mbedtls_x509_crt_free(&chain);
    return rc;
}

int fpest_cacerts(fpest_client *c, const unsigned char pin_sha256[32]) {
    if (c == NULL || (pin_sha256 == NULL && !c->have_root)) return c == NULL ? FPEST_ERR_ARG : FPEST_ERR_NO_ROOT;
    mbedtls_x509_crt peer, got, root, cas;
    mbedtls_x509_crt_init(&peer);
    mbedtls_x509_crt_init(&got);
    mbedtls_x509_crt_init(&root);
    mbedtls_x509_crt_init(&cas);
    fpest_http_resp r;
    exchange x = {"GET", "cacerts", NULL, NULL, 0, NULL, NULL, NULL, NULL, !c->have_root, &peer};
    unsigned char *der;
    size_t der_len;
    int rc = run(c, &x, &r);
    if (rc == FPEST_OK) rc = expect(c, &r, "application/pkcs7-mime", &der, &der_len);
    if (rc == FPEST_PENDING) rc = FPEST_ERR_HTTP_STATUS;
    if (rc == FPEST_OK) rc = fpest_pkcs7_certs(der, der_len, &got);
    /* the root: the pinned one if a root is pinned already, else the self-signed one with the pinned fingerprint */
    const mbedtls_x509_crt *found = NULL;
    for (const mbedtls_x509_crt *crt = &got; rc == FPEST_OK && crt != NULL && found == NULL; crt = crt->next) {
        unsigned char fp[32];
        if (!is_self_signed(crt)) continue;
        if (pin_sha256 != NULL) {
            if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), crt->raw.p, crt->raw.len, fp) == 0 && memcmp(fp, pin_sha256, 32) == 0)
                found = crt;
        } else if (crt->raw.len == c->root.raw.len && memcmp(crt->raw.p, c->root.raw.p, crt->raw.len) == 0) {
            found = crt;
        }
    }
    if (rc == FPEST_OK && found == NULL) rc = FPEST_ERR_ROOT_PIN;
    if (rc == FPEST_OK && mbedtls_x509_crt_parse_der(&root, found->raw.p, found->raw.len) != 0) rc = FPEST_ERR_PKCS7;
    for (const mbedtls_x509_crt *crt = &got; rc == FPEST_OK && crt != NULL; crt = crt->next) {
        if (crt != found && mbedtls_x509_crt_parse_der(&cas, crt->raw.p, crt->raw.len) != 0) rc = FPEST_ERR_PKCS7;
    }
    /* every other CA chains to the root; at bootstrap the TLS server's certificate does too, and names the host */
    for (const mbedtls_x509_crt *crt = &cas; rc == FPEST_OK && crt != NULL && crt->raw.len > 0; crt = crt->next) {
        rc = verify_with(c, crt->raw.p, crt->raw.len, &cas, &root, NULL);
    }
    if (rc == FPEST_OK && x.bootstrap) {
        rc = verify_with(c, peer.raw.p, peer.raw.len, &cas, &root, c->cfg.host); /* the chain and the host name in one check */
        if (rc == FPEST_ERR_UNTRUSTED_CHAIN) rc = FPEST_ERR_TLS_UNTRUSTED;
    }
    if (rc == FPEST_OK) {
        mbedtls_x509_crt_free(&c->root);
        mbedtls_x509_crt_free(&c->cas);
        c->root = root;
        c->cas = cas;
        c->have_root = 1;
    } else {
        mbedtls_x509_crt_free(&root);
        mbedtls_x509_crt_free(&cas);
    }
    mbedtls_x509_crt_free(&got);
    mbedtls_x509_crt_free(&peer);
    return rc;
}

int fpest_csrattrs(fpest_client *c, fpest_key_choice *out) {
    if (c == NULL || out == NULL) return FPEST_ERR_ARG;
    fpest_http_resp r;
    exchange x = {"GET", "csrattrs", NULL, NULL, 0, NULL, NULL, NULL, NULL, 0, NULL};
    unsigned char *der;
    size_t der_len;
    int rc = run(c, &x, &r);
    if (rc == FPEST_OK && r.status == 204) return fpest_parse_csrattrs(r.body, 0, out); /* RFC 7030 4.5.2: no attributes */
    if (rc == FPEST_OK) rc = expect(c, &r, "application/csrattrs", &der, &der_len);
    if (rc == FPEST_PENDING) rc = FPEST_ERR_HTTP_STATUS;
    if (rc == FPEST_OK) rc = fpest_parse_csrattrs(der, der_len, out);
    if (rc == FPEST_OK && out->unsupported) rc = FPEST_ERR_CSRATTRS;
    return rc;
}

int fpest_check_issued(fpest_client *c, const mbedtls_x509_crt *crt, const char *device_id, fpest_key *key) {
    if (c == NULL || crt == NULL || device_id == NULL || key == NULL || key->pub == NULL) return FPEST_ERR_ARG;
    if (!c->have_root) return FPEST_ERR_NO_ROOT;
    if (!fpest_same_key(&crt->pk, key->pub)) return FPEST_ERR_WRONG_KEY;
    /* the subject names the device: exactly one CN, equal to the id */
    int cns = 0, match = 0;
    size_t id_len = strlen(device_id);
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next) {
        if (n->oid.p == NULL || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0) continue;
        cns++;
        match = n->val.len == id_len && memcmp(n->val.p, device_id, id_len) == 0;
    }
    if (cns != 1 || !match) return FPEST_ERR_WRONG_SUBJECT;
    return verify_with(c, crt->raw.p, crt->raw.len, &c->cas, &c->root, NULL);
}

int fpest_enroll(fpest_client *c, const fpest_enroll_req *req, mbedtls_x509_crt *out) {
    if (c == NULL || req == NULL || out == NULL || req->device_id == NULL || req->key == NULL || req->csr == NULL) return FPEST_ERR_ARG;
    if (req->reenroll && (req->client_cert == NULL || req->client_key == NULL)) return FPEST_ERR_ARG;
    fpest_http_resp r;
    exchange x = {"POST", req->reenroll ? "simplereenroll" : "simpleenroll", "application/pkcs10", req->csr, req->csr_len,
                  req->secret ? req->device_id : NULL, req->secret, req->client_cert, req->client_key, 0, NULL};
    unsigned char *der;
    size_t der_len;
    mbedtls_x509_crt got;
    mbedtls_x509_crt_init(&got);
    int rc = run(c, &x, &r);
    if (rc == FPEST_OK) rc = expect(c, &r, "application/pkcs7-mime", &der, &der_len);
    if (rc == FPEST_OK) rc = fpest_pkcs7_certs(der, der_len, &got);
    /* the issued certificate: the one for the device's key (a server may add its chain) */
    const mbedtls_x509_crt *leaf = NULL;
    for (const mbedtls_x509_crt *crt = &got; rc == FPEST_OK && crt != NULL && leaf == NULL; crt = crt->next) {
        if (fpest_same_key(&crt->pk, req->key->pub)) leaf = crt;
    }
    if (rc == FPEST_OK && leaf == NULL) rc = FPEST_ERR_WRONG_KEY;
    if (rc == FPEST_OK) rc = fpest_check_issued(c, leaf, req->device_id, req->key);
    if (rc == FPEST_OK && mbedtls_x509_crt_parse_der(out, leaf->raw.p, leaf->raw.len) != 0) rc = FPEST_ERR_PKCS7;
    mbedtls_x509_crt_free(&got);
    return rc;
}
