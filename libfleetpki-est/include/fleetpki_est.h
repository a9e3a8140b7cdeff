/*
 * libfleetpki-est: an EST (RFC 7030) client for device firmware, on Mbed TLS.
 *
 * The device keeps its private key (in software, a PSA opaque key or a secure element), builds its
 * own CSR with its device id as CN, and gets its certificate from a fleetpki server over EST:
 *
 *   fpest_client c;                      one per server; holds the pinned root and the TLS config
 *   fpest_init(&c, &cfg);                cfg: host, port, the port layer (sockets, entropy, time),
 *                                        a receive buffer (bounds every answer)
 *   fpest_pin_root_pem(&c, ...) or       the root shipped in firmware, or
 *   fpest_cacerts(&c, sha256_of_root)    bootstrap: fetch cacerts, keep them only if the root in
 *                                        them has the SHA-256 fingerprint given out of band
 *   fpest_csrattrs(&c, &attrs)           which key and signature algorithm the server wants
 *   fpest_make_csr(&c, &key, id, ...)    a PKCS#10 request signed through the key interface
 *   fpest_enroll(&c, &req, &crt)         simpleenroll (one-time secret or IDevID) / simplereenroll;
 *                                        FPEST_PENDING + retry_after on 202; the answer is checked:
 *                                        the device's own key, CN = device id, chains to the root
 *
 * C99. The library allocates nothing itself after fpest_init: answers are read into the caller's
 * buffer; Mbed TLS allocates for its TLS session and parsed certificates (its own allocator, which
 * MBEDTLS_PLATFORM_MEMORY / memory_buffer_alloc can point at a static pool).
 */
#ifndef FLEETPKI_EST_H
#define FLEETPKI_EST_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/md.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FPEST_VERSION "0.1.0"

/* Errors: negative; fpest_strerror() says what went wrong and what to do. */
enum {
    FPEST_OK = 0,
    FPEST_PENDING = 1,                    /* 202: the request waits for an operator; send the same CSR after retry_after s */
    FPEST_ERR_ARG = -1,                   /* a NULL or out-of-range argument */
    FPEST_ERR_CONNECT = -2,               /* cannot reach the server */
    FPEST_ERR_TLS = -3,                   /* TLS handshake or record error (mbedtls code in c->mbedtls_err) */
    FPEST_ERR_TLS_UNTRUSTED = -4,         /* the server's TLS certificate does not chain to the pinned root / names another host */
    FPEST_ERR_TIMEOUT = -5,               /* the server sent nothing for timeout_ms, or the whole exchange took over total_timeout_ms */
    FPEST_ERR_HTTP_MALFORMED = -6,        /* not an HTTP/1.1 answer: status line, header, chunk size or length unreadable */
    FPEST_ERR_HTTP_TOO_LARGE = -7,        /* the answer does not fit the receive buffer */
    FPEST_ERR_HTTP_TRUNCATED = -8,        /* the connection ended before the body (Content-Length or last chunk) was complete */
    FPEST_ERR_HTTP_STATUS = -9,           /* the server answered an error status (c->http_status, c->detail) */
    FPEST_ERR_CONTENT_TYPE = -10,         /* the answer is not the content type EST specifies */
    FPEST_ERR_BASE64 = -11,               /* the body is not base64 (line breaks allowed) */
    FPEST_ERR_PKCS7 = -12,                /* not a certs-only PKCS#7 SignedData, or a certificate in it does not parse */
    FPEST_ERR_NO_CERT = -13,              /* the answer holds no certificate */
    FPEST_ERR_WRONG_KEY = -14,            /* the issued certificate certifies another key than the device's */
    FPEST_ERR_WRONG_SUBJECT = -15,        /* the issued certificate names another subject than CN=<device id> */
    FPEST_ERR_UNTRUSTED_CHAIN = -16,      /* the certificate does not chain to the pinned root (or is not valid now) */
    FPEST_ERR_ROOT_PIN = -17,             /* cacerts holds no root with the pinned SHA-256 fingerprint */
    FPEST_ERR_NO_ROOT = -18,              /* no root pinned yet: call fpest_pin_root_* or fpest_cacerts first */
    FPEST_ERR_CSRATTRS = -19,             /* csrattrs does not parse, or asks for a key this device cannot make */
    FPEST_ERR_KEY = -20,                  /* the key interface failed (sign callback error, unsupported key type) */
    FPEST_ERR_BUFFER = -21,               /* an output buffer given by the caller is too small */
    FPEST_ERR_STORAGE = -22,              /* a storage callback failed */
    FPEST_ERR_CRYPTO = -23,               /* an Mbed TLS crypto call failed (c->mbedtls_err) */
    FPEST_ERR_NO_CREDENTIAL = -24,        /* renewal: no valid certificate and no bootstrap credential to enroll with */
    FPEST_ERR_KEY_TLS = -25,              /* Mbed TLS 3.x: a callback-only key cannot sign the TLS handshake (use a PSA opaque key) */
};

const char *fpest_strerror(int err);

/* ---- port: what the platform gives the library (POSIX in port/posix, ESP-IDF, Zephyr) ---- */

typedef struct fpest_port {
    /* open a TCP connection; *conn is passed to send/recv/close */
    int (*connect)(void *port_ctx, const char *host, uint16_t port, uint32_t timeout_ms, void **conn);
    /* Mbed TLS bio semantics: bytes sent, MBEDTLS_ERR_SSL_WANT_WRITE, or a negative error */
    int (*send)(void *conn, const unsigned char *buf, size_t len);
    /* bytes read, 0 on end of stream, MBEDTLS_ERR_SSL_TIMEOUT after timeout_ms, or a negative error */
    int (*recv)(void *conn, unsigned char *buf, size_t len, uint32_t timeout_ms);
    void (*close)(void *conn);
    /* Mbed TLS entropy source (mbedtls_entropy_f_source_ptr semantics) */
    int (*entropy)(void *port_ctx, unsigned char *out, size_t len, size_t *olen);
    /* seconds since the epoch, or -1 when the device does not know the time yet */
    int64_t (*now)(void *port_ctx);
    void *ctx;
} fpest_port;

/* ---- keys: one interface for a software key and an opaque one (only a sign callback) ---- */

/*
 * Sign a hash with the device key. Writes an ASN.1 DER signature (ECDSA-Sig-Value for EC keys,
 * PKCS#1 v1.5 for RSA) into sig (sig_size bytes) and its length into *sig_len; 0 on success.
 * A secure element that returns raw r||s can use fpest_ecdsa_raw_to_der().
 */
typedef int (*fpest_sign_fn)(void *sign_ctx, mbedtls_md_type_t md, const unsigned char *hash, size_t hash_len,
                             unsigned char *sig, size_t sig_size, size_t *sig_len);

typedef struct fpest_key {
    mbedtls_ecp_keypair ec;  /* opaque EC keys: the public half (first member: Mbed TLS 2.x reads it as the pk context) */
    mbedtls_pk_context own;  /* opaque keys: what Mbed TLS signs the TLS handshake with (calls the callback) */
    mbedtls_pk_context rsa_pub; /* opaque RSA keys: the public key */
    mbedtls_pk_context *pk;  /* the key Mbed TLS signs with: the caller's software key, or &own */
    mbedtls_pk_context *pub; /* the key's public half, for the CSR and the checks */
    fpest_sign_fn sign;      /* opaque keys */
    void *sign_ctx;
    int opaque;              /* 1: EC, 2: RSA */
} fpest_key;

/* A software key: an Mbed TLS pk context holding a private key (EC P-256/P-384 or RSA). Not copied. */
int fpest_key_software(fpest_key *k, mbedtls_pk_context *pk);
/*
 * An opaque EC key: its public point (uncompressed, 0x04||X||Y) on grp (MBEDTLS_ECP_DP_SECP256R1 or
 * _SECP384R1) and a sign callback. The CSR is always signed through the callback; with Mbed TLS 2.x
 * the TLS handshake (IDevID, renewal, MQTT) is too. With Mbed TLS 3.x use a PSA opaque key for TLS:
 * fpest_key_software() on a pk made by mbedtls_pk_setup_opaque().
 */
int fpest_key_opaque_ec(fpest_key *k, mbedtls_ecp_group_id grp, const unsigned char *point, size_t point_len,
                        fpest_sign_fn sign, void *sign_ctx);
/*
 * An opaque RSA key (a secure element or signing peripheral holding RSA, e.g. the ESP32's DS): its
 * SubjectPublicKeyInfo (DER) and a sign callback that returns the PKCS#1 v1.5 signature of the hash
 * (as many bytes as the modulus). The CSR is signed through the callback; TLS too, through Mbed TLS's
 * RSA-alt key (MBEDTLS_PK_RSA_ALT_SUPPORT), with TLS 1.2 (TLS 1.3 asks RSA keys for PSS).
 */
int fpest_key_opaque_rsa(fpest_key *k, const unsigned char *spki, size_t spki_len, fpest_sign_fn sign, void *sign_ctx);
void fpest_key_free(fpest_key *k);
/* Raw r||s (as most secure elements return it) to DER ECDSA-Sig-Value. */
int fpest_ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len, unsigned char *der, size_t der_size, size_t *der_len);

/* ---- the client ---- */

typedef struct fpest_config {
    const char *host;           /* the server's name: sent as SNI and checked against its TLS certificate */
    uint16_t port;              /* 443 or the server's port */
    const char *label;          /* EST label (certificate profile), or NULL for the default */
    const fpest_port *io;
    unsigned char *buf;         /* receive buffer: every answer (headers + body) must fit */
    size_t buf_len;             /* 4096 is enough for an issued certificate; cacerts with a long chain wants more */
    uint32_t timeout_ms;        /* longest silence while reading (default 10000) */
    uint32_t total_timeout_ms;  /* longest exchange, connect to last byte (default 30000); needs io->now */
} fpest_config;

typedef struct fpest_client {
    fpest_config cfg;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt root;      /* the pinned root */
    mbedtls_x509_crt cas;       /* CA certificates from cacerts (intermediates, used to check chains) */
    int have_root;
    int http_status;            /* of the last answer */
    uint32_t retry_after;       /* seconds, from the last 202/429/503 (Retry-After) */
    int mbedtls_err;            /* the Mbed TLS error behind FPEST_ERR_TLS / _CRYPTO */
    uint32_t tls_flags;         /* verification flags behind FPEST_ERR_TLS_UNTRUSTED / _UNTRUSTED_CHAIN */
    char detail[160];           /* the server's problem detail (RFC 9457) or body start, for an error status */
} fpest_client;

int fpest_init(fpest_client *c, const fpest_config *cfg);
void fpest_free(fpest_client *c);

/* Pin the root shipped in firmware (PEM with its NUL, or DER). */
int fpest_pin_root(fpest_client *c, const unsigned char *buf, size_t len);
/*
 * Bootstrap (RFC 7030 4.1.1): GET cacerts over a TLS connection not yet trusted, find the
 * self-signed root whose SHA-256 fingerprint is pin_sha256 (given out of band), check that the
 * other CA certificates and the server's own TLS certificate chain to it, then pin it. Nothing is
 * kept when any check fails. With a root already pinned, the connection is verified as usual and
 * the CA certificates are refreshed.
 */
int fpest_cacerts(fpest_client *c, const unsigned char pin_sha256[32]);

typedef struct fpest_key_choice {
    mbedtls_pk_type_t key_type;     /* MBEDTLS_PK_ECKEY or MBEDTLS_PK_RSA; MBEDTLS_PK_NONE if the server names none */
    mbedtls_ecp_group_id curve;     /* for EC */
    unsigned rsa_bits;              /* for RSA */
    mbedtls_md_type_t md;           /* the CSR's signature hash (SHA-256 when not named) */
    int unsupported;                /* the server asks for a key Mbed TLS cannot make here (Ed25519, ML-DSA) */
} fpest_key_choice;

int fpest_csrattrs(fpest_client *c, fpest_key_choice *out);
/* Parse csrattrs DER (exposed for tests and fuzzing). */
int fpest_parse_csrattrs(const unsigned char *der, size_t len, fpest_key_choice *out);

/* A PKCS#10 request, subject CN=device_id, signed through the key; DER written at the start of out. */
int fpest_make_csr(fpest_client *c, fpest_key *key, const char *device_id, mbedtls_md_type_t md,
                   unsigned char *out, size_t out_size, size_t *out_len);

typedef struct fpest_enroll_req {
    const char *device_id;           /* the expected subject CN */
    fpest_key *key;                  /* the key the CSR certifies (its public half is checked in the answer) */
    const unsigned char *csr;        /* DER; keep it to send the same CSR again after FPEST_PENDING */
    size_t csr_len;
    const char *secret;              /* one-time enrollment secret: HTTP basic device_id:secret, or NULL */
    mbedtls_x509_crt *client_cert;   /* TLS client certificate: IDevID (simpleenroll) or the current certificate (reenroll) */
    fpest_key *client_key;           /* its key */
    int reenroll;                    /* 1: simplereenroll (client_cert = the current certificate) */
} fpest_enroll_req;

/*
 * Enroll; on FPEST_OK *out holds the issued certificate (parse into an initialised crt; its DER is
 * out->raw) and it has been checked: the device's own public key, subject CN = device_id, chains
 * to the pinned root through the cacerts CAs, valid now. FPEST_PENDING: 202, send the same CSR
 * again after c->retry_after seconds.
 */
int fpest_enroll(fpest_client *c, const fpest_enroll_req *req, mbedtls_x509_crt *out);

/* The checks fpest_enroll makes on an answer, on their own. */
int fpest_check_issued(fpest_client *c, const mbedtls_x509_crt *crt, const char *device_id, fpest_key *key);

/*
 * A TLS connection to another service (an MQTT broker, the device's cloud endpoint) checked against
 * the pinned root and host, with cert/key as the client certificate (NULLs: none). Use t->ssl with
 * mbedtls_ssl_read/write; fpest_tls_close sends close_notify and frees it.
 */
typedef struct fpest_tls {
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    void *conn;
    const fpest_port *io;
} fpest_tls;
int fpest_tls_open(fpest_client *c, fpest_tls *t, const char *host, uint16_t port, mbedtls_x509_crt *cert, fpest_key *key);
void fpest_tls_close(fpest_tls *t);

/* ---- parsers (exposed for tests and fuzzing; no I/O) ---- */

typedef struct fpest_http_resp {
    int status;
    const unsigned char *body;     /* inside the buffer given to fpest_http_parse */
    size_t body_len;
    char content_type[64];         /* lower-cased, parameters kept */
    uint32_t retry_after;          /* seconds; 0 when absent */
    int has_retry_after;
} fpest_http_resp;

/*
 * Parse a complete HTTP/1.1 answer held in buf[0..len). Returns FPEST_OK (chunked bodies decoded in
 * place), FPEST_ERR_HTTP_TRUNCATED when more bytes are needed (eof = 0: read on; eof = 1: the
 * connection ended early), or FPEST_ERR_HTTP_MALFORMED.
 */
int fpest_http_parse(unsigned char *buf, size_t len, int eof, fpest_http_resp *r);
/* base64 (RFC 4648, line breaks and spaces allowed) decoded in place; *out_len = decoded length. */
int fpest_base64_inplace(unsigned char *buf, size_t len, size_t *out_len);
/* The certificates of a certs-only PKCS#7 SignedData (DER), appended to chain. */
int fpest_pkcs7_certs(const unsigned char *der, size_t len, mbedtls_x509_crt *chain);

/* ---- renewal ---- */

typedef struct fpest_storage {
    /* read blob `name` into buf; *len = its size; FPEST_OK, or 1 when there is no such blob */
    int (*read)(void *ctx, const char *name, unsigned char *buf, size_t size, size_t *len);
    /* write blob `name` atomically (all or nothing); len 0 deletes it */
    int (*write)(void *ctx, const char *name, const unsigned char *buf, size_t len);
    void *ctx;
} fpest_storage;

typedef struct fpest_renew_policy {
    unsigned fraction_pct;   /* renew after this share of the lifetime (0: the default, 67) */
    unsigned jitter_pct;     /* spread over this share of the lifetime after it, fixed per device id (0: the default, 10) */
} fpest_renew_policy;

/* When to renew a certificate valid [not_before, not_after): the same instant for a device every time. */
int64_t fpest_renew_at(int64_t not_before, int64_t not_after, const char *device_id, const fpest_renew_policy *policy);
/* A certificate's validity in seconds since the epoch. */
int fpest_validity(const mbedtls_x509_crt *crt, int64_t *not_before, int64_t *not_after);

/*
 * Blob names the renewal helper uses: "cert" (current certificate, DER), "cert.new" and "csr.new"
 * (a rekey in flight: the request sent, kept to send the same CSR again after 202 or a reboot).
 */
#define FPEST_BLOB_CERT "cert"
#define FPEST_BLOB_CERT_NEW "cert.new"
#define FPEST_BLOB_CSR_NEW "csr.new"

typedef struct fpest_renewal {
    const char *device_id;
    fpest_storage storage;
    fpest_renew_policy policy;
    fpest_key *current_key;          /* the key of the stored certificate */
    fpest_key *next_key;             /* the new key for a rekey (made by the caller: software or a second SE slot); NULL: keep current_key */
    const char *bootstrap_secret;    /* first enrollment, and the fall-back after expiry (or NULL) */
    mbedtls_x509_crt *bootstrap_cert;/* or an IDevID and its key */
    fpest_key *bootstrap_key;
    mbedtls_md_type_t md;            /* the CSR's hash, as csrattrs names it (MBEDTLS_MD_NONE: SHA-256) */
    unsigned char *work;             /* scratch for CSR and blobs (2048 bytes is enough for P-256) */
    size_t work_len;
} fpest_renewal;

enum {
    FPEST_RENEW_NOT_DUE = 2,         /* nothing to do before *next (seconds since the epoch) */
    FPEST_RENEWED = 3,               /* a new certificate is in "cert"; the caller now uses next_key */
};

/*
 * One step of the renewal state machine, safe to call at every boot and on a timer (it decides
 * nothing, FPEST_RENEW_NOT_DUE with *next = -1, while io->now does not know the time):
 * - no "cert" or it has expired: enroll with the bootstrap credential (secret or IDevID);
 * - before the renewal instant: FPEST_RENEW_NOT_DUE, *next set;
 * - due: simplereenroll with the current certificate and a CSR for next_key; the CSR is stored
 *   first ("csr.new") so a 202 or a reboot sends the same one again; the answer is checked, then
 *   written to "cert.new", then to "cert" (the old certificate stays in "cert" until this write),
 *   then "cert.new" and "csr.new" are removed. A refused or bad answer keeps the old certificate.
 */
int fpest_renew_step(fpest_client *c, fpest_renewal *r, int64_t *next);

#ifdef __cplusplus
}
#endif
#endif
