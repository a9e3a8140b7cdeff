/*
 * Unit tests of what the library reads and writes without a network: the HTTP answer parser, the
 * base64 decoder, the certs-only PKCS#7 reader, csrattrs, the CSR and its signature, raw-to-DER
 * ECDSA, the renewal instant. `make check` (and `make SAN=1 check` under ASan + UBSan).
 * Each input is copied to a heap buffer of its exact size, so ASan sees any read past it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki_est.h"
#include "fpest_compat.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"
#include "mbedtls/x509_csr.h"

static int failures, checks;
static const char *data_dir = "tests/data";

#define CHECK(cond) do { checks++; if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

/* parse a copy of s in an exactly sized heap buffer */
static int http(const char *s, int eof, fpest_http_resp *r, char *body, size_t body_size) {
    size_t n = strlen(s);
    unsigned char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    int rc = fpest_http_parse(b, n, eof, r);
    if (rc == FPEST_OK && body) {
        size_t l = r->body_len < body_size - 1 ? r->body_len : body_size - 1;
        memcpy(body, r->body, l);
        body[l] = 0;
    }
    free(b);
    return rc;
}

static void test_http(void) {
    fpest_http_resp r;
    char body[256];
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Type: Application/PKCS7-MIME; smime-type=certs-only\r\nContent-Length: 5\r\n\r\nhello", 0, &r, body, sizeof body) == FPEST_OK);
    CHECK(r.status == 200 && strcmp(body, "hello") == 0 && strcmp(r.content_type, "application/pkcs7-mime; smime-type=certs-only") == 0);
    /* bytes after Content-Length are not the body */
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", 0, &r, body, sizeof body) == FPEST_OK && strcmp(body, "he") == 0);
    /* chunked, with an extension, a trailer, and bare LF lines */
    CHECK(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0A\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n", 0, &r, body, sizeof body) == FPEST_OK);
    CHECK(strcmp(body, "abc0123456789") == 0 && r.body_len == 13);
    CHECK(http("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n", 0, &r, body, sizeof body) == FPEST_OK && strcmp(body, "ab") == 0);
    /* incomplete: read on; ended: truncated */
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, &r, NULL, 0) == FPEST_ERR_HTTP_TRUNCATED);
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 1, &r, NULL, 0) == FPEST_ERR_HTTP_TRUNCATED);
    CHECK(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", 1, &r, NULL, 0) == FPEST_ERR_HTTP_TRUNCATED);
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Le", 0, &r, NULL, 0) == FPEST_ERR_HTTP_TRUNCATED);
    CHECK(http("", 1, &r, NULL, 0) == FPEST_ERR_HTTP_TRUNCATED);
    /* no length: the body ends with the connection */
    CHECK(http("HTTP/1.0 200 OK\r\n\r\nuntil close", 0, &r, NULL, 0) == FPEST_ERR_HTTP_TRUNCATED);
    CHECK(http("HTTP/1.0 200 OK\r\n\r\nuntil close", 1, &r, body, sizeof body) == FPEST_OK && strcmp(body, "until close") == 0);
    /* malformed */
    CHECK(http("SSH-2.0-OpenSSH_9.2\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 2x0 OK\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFF\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    CHECK(http("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    /* 202 with Retry-After, an HTTP-date Retry-After (a minute), 204 without body */
    CHECK(http("HTTP/1.1 202 Accepted\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", 0, &r, NULL, 0) == FPEST_OK && r.status == 202
          && r.has_retry_after && r.retry_after == 7);
    CHECK(http("HTTP/1.1 503 x\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n", 0, &r, NULL, 0) == FPEST_OK
          && r.retry_after == 60);
    CHECK(http("HTTP/1.1 204 No Content\r\n\r\n", 0, &r, NULL, 0) == FPEST_OK && r.body_len == 0);
    /* a header line that never ends, or a status line over 8 KiB: refused rather than waited for */
    char *big = malloc(9001);
    memset(big, 'a', 9000);
    big[9000] = 0;
    memcpy(big, "HTTP/1.1 200 OK", 15);
    CHECK(http(big, 0, &r, NULL, 0) == FPEST_ERR_HTTP_MALFORMED);
    free(big);
}

static void test_base64(void) {
    unsigned char b[64];
    size_t n;
    strcpy((char *) b, "aGVs\r\nbG8=\r\n");
    CHECK(fpest_base64_inplace(b, strlen((char *) b), &n) == FPEST_OK && n == 5 && memcmp(b, "hello", 5) == 0);
    strcpy((char *) b, "aGVsbA==");
    CHECK(fpest_base64_inplace(b, 8, &n) == FPEST_OK && n == 4 && memcmp(b, "hell", 4) == 0);
    strcpy((char *) b, "aGVs*G8=");
    CHECK(fpest_base64_inplace(b, 8, &n) == FPEST_ERR_BASE64);
    strcpy((char *) b, "aGVsbA==aGVs");
    CHECK(fpest_base64_inplace(b, 12, &n) == FPEST_ERR_BASE64); /* data after padding */
    strcpy((char *) b, "aGVsb");
    CHECK(fpest_base64_inplace(b, 5, &n) == FPEST_ERR_BASE64); /* a partial group */
    strcpy((char *) b, "a===");
    CHECK(fpest_base64_inplace(b, 4, &n) == FPEST_ERR_BASE64);
}

static size_t load(const char *name, unsigned char **out) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t) n);
    if (fread(*out, 1, (size_t) n, f) != (size_t) n) exit(2);
    fclose(f);
    return (size_t) n;
}

static void test_pkcs7(void) {
    unsigned char *p7;
    size_t n = load("certs-only.p7", &p7);
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    CHECK(fpest_pkcs7_certs(p7, n, &chain) == FPEST_OK);
    CHECK(chain.next != NULL && chain.next->next == NULL); /* two certificates */
    mbedtls_x509_crt_free(&chain);
    /* every truncation is refused, never read past */
    int all_refused = 1;
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *t = malloc(cut ? cut : 1);
        memcpy(t, p7, cut);
        mbedtls_x509_crt_init(&chain);
        if (fpest_pkcs7_certs(t, cut, &chain) == FPEST_OK) all_refused = 0;
        mbedtls_x509_crt_free(&chain);
        free(t);
    }
    CHECK(all_refused);
    /* another content type (id-data) is refused */
    p7[14] = 0x01;
    mbedtls_x509_crt_init(&chain);
    CHECK(fpest_pkcs7_certs(p7, n, &chain) == FPEST_ERR_PKCS7);
    mbedtls_x509_crt_free(&chain);
    free(p7);
    /* a SignedData without certificates */
    static const unsigned char empty[] = {0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x0d, 0x30, 0x0b, 0x02,
                                          0x01, 0x01, 0x31, 0x00, 0x30, 0x02, 0x06, 0x00, 0x31, 0x00};
    mbedtls_x509_crt_init(&chain);
    CHECK(fpest_pkcs7_certs(empty, sizeof empty, &chain) == FPEST_ERR_NO_CERT);
    mbedtls_x509_crt_free(&chain);
}

static void test_csrattrs(void) {
    unsigned char *der;
    size_t n = load("csrattrs-p256.der", &der);
    fpest_key_choice a;
    CHECK(fpest_parse_csrattrs(der, n, &a) == FPEST_OK && a.key_type == MBEDTLS_PK_ECKEY && a.curve == MBEDTLS_ECP_DP_SECP256R1
          && a.md == MBEDTLS_MD_SHA256 && !a.unsupported);
    free(der);
    /* RSA 3072 with SHA-384: SEQ { SEQ { rsaEncryption, SET { INTEGER 3072 } }, sha384WithRSAEncryption } */
    static const unsigned char rsa[] = {0x30, 0x1e, 0x30, 0x11, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x31, 0x04,
                                        0x02, 0x02, 0x0c, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c};
    CHECK(fpest_parse_csrattrs(rsa, sizeof rsa, &a) == FPEST_OK && a.key_type == MBEDTLS_PK_RSA && a.rsa_bits == 3072 && a.md == MBEDTLS_MD_SHA384);
    /* Ed25519 (a bare OID): not something Mbed TLS makes */
    static const unsigned char ed[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
    CHECK(fpest_parse_csrattrs(ed, sizeof ed, &a) == FPEST_OK && a.unsupported);
    static const unsigned char bad[] = {0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01};
    CHECK(fpest_parse_csrattrs(bad, sizeof bad, &a) == FPEST_ERR_CSRATTRS);
    CHECK(fpest_parse_csrattrs(bad, 3, &a) == FPEST_ERR_CSRATTRS);
}

static int no_connect(void *ctx, const char *h, uint16_t p, uint32_t t, void **conn) { (void) ctx; (void) h; (void) p; (void) t; (void) conn; return -1; }
static int no_send(void *c, const unsigned char *b, size_t l) { (void) c; (void) b; (void) l; return -1; }
static int no_recv(void *c, unsigned char *b, size_t l, uint32_t t) { (void) c; (void) b; (void) l; (void) t; return -1; }
static void no_close(void *c) { (void) c; }
static int weak_entropy(void *ctx, unsigned char *out, size_t len, size_t *olen) { /* a test needs no real randomness */
    (void) ctx;
    for (size_t i = 0; i < len; i++) out[i] = (unsigned char) (rand() & 0xff);
    *olen = len;
    return 0;
}

static int test_rng(void *ctx, unsigned char *out, size_t len) {
    size_t olen;
    return weak_entropy(ctx, out, len, &olen);
}

/* a sign callback over a software key, as a secure element driver would be */
static int sw_sign(void *ctx, mbedtls_md_type_t md, const unsigned char *hash, size_t hash_len, unsigned char *sig, size_t size, size_t *len) {
    mbedtls_ecp_keypair *kp = (mbedtls_ecp_keypair *) ctx;
    mbedtls_mpi r, s;
    unsigned char raw[64];
    (void) md;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int ret = mbedtls_ecdsa_sign(&kp->FPEST_PRIV(grp), &r, &s, &kp->FPEST_PRIV(d), hash, hash_len, test_rng, NULL);
    if (ret == 0) ret = mbedtls_mpi_write_binary(&r, raw, 32) || mbedtls_mpi_write_binary(&s, raw + 32, 32);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ret ? -1 : fpest_ecdsa_raw_to_der(raw, 64, sig, size, len);
}

static void test_csr(void) {
    fpest_port io = {no_connect, no_send, no_recv, no_close, weak_entropy, NULL, NULL};
    static unsigned char buf[2048];
    fpest_config cfg = {"localhost", 8443, NULL, &io, buf, sizeof buf, 0, 0};
    fpest_client c;
    CHECK(fpest_init(&c, &cfg) == FPEST_OK);
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    CHECK(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
    CHECK(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &c.drbg) == 0);

    /* a software key and the same key behind a sign callback make CSRs Mbed TLS reads back and verifies */
    for (int opaque = 0; opaque < 2; opaque++) {
        fpest_key key;
        if (opaque) {
            unsigned char point[65];
            size_t pl;
            mbedtls_ecp_keypair *kp = mbedtls_pk_ec(pk);
            CHECK(mbedtls_ecp_point_write_binary(&kp->FPEST_PRIV(grp), &kp->FPEST_PRIV(Q), MBEDTLS_ECP_PF_UNCOMPRESSED, &pl, point, sizeof point) == 0);
            CHECK(fpest_key_opaque_ec(&key, MBEDTLS_ECP_DP_SECP256R1, point, pl, sw_sign, kp) == FPEST_OK);
        } else {
            CHECK(fpest_key_software(&key, &pk) == FPEST_OK);
        }
        unsigned char der[1024];
        size_t n;
        CHECK(fpest_make_csr(&c, &key, "sensor-0042", MBEDTLS_MD_SHA256, der, sizeof der, &n) == FPEST_OK);
        mbedtls_x509_csr csr;
        mbedtls_x509_csr_init(&csr);
        CHECK(mbedtls_x509_csr_parse_der(&csr, der, n) == 0);
        char subject[100];
        mbedtls_x509_dn_gets(subject, sizeof subject, &csr.subject);
        CHECK(strcmp(subject, "CN=sensor-0042") == 0);
        unsigned char hash[32];
        CHECK(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), csr.cri.p, csr.cri.len, hash) == 0);
        CHECK(mbedtls_pk_verify(&csr.pk, MBEDTLS_MD_SHA256, hash, 32, csr.FPEST_PRIV(sig).p, csr.FPEST_PRIV(sig).len) == 0);
        CHECK(csr.FPEST_PRIV(sig_md) == MBEDTLS_MD_SHA256 && csr.FPEST_PRIV(sig_pk) == MBEDTLS_PK_ECDSA);
        mbedtls_x509_csr_free(&csr);
        /* too small an output buffer, an empty or over-long id */
        CHECK(fpest_make_csr(&c, &key, "sensor-0042", MBEDTLS_MD_SHA256, der, 100, &n) == FPEST_ERR_BUFFER);
        CHECK(fpest_make_csr(&c, &key, "", MBEDTLS_MD_SHA256, der, sizeof der, &n) == FPEST_ERR_ARG);
        fpest_key_free(&key);
    }
    mbedtls_pk_free(&pk);
    fpest_free(&c);
}

static int writes;
static int count_write(void *ctx, const char *name, const unsigned char *buf, size_t len) { (void) ctx; (void) name; (void) buf; (void) len; writes++; return 0; }
static int none_read(void *ctx, const char *name, unsigned char *buf, size_t size, size_t *len) { (void) ctx; (void) name; (void) buf; (void) size; (void) len; return 1; }

/* with no clock the renewal step decides nothing: no CSR stored, no connection, next unknown */
static void test_renew_without_time(void) {
    fpest_port io = {no_connect, no_send, no_recv, no_close, weak_entropy, NULL, NULL};
    static unsigned char buf[2048], work[2048];
    fpest_config cfg = {"localhost", 8443, NULL, &io, buf, sizeof buf, 0, 0};
    fpest_client c;
    CHECK(fpest_init(&c, &cfg) == FPEST_OK);
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &c.drbg);
    fpest_key key;
    fpest_key_software(&key, &pk);
    fpest_renewal r;
    memset(&r, 0, sizeof r);
    r.device_id = "sensor-1";
    r.storage.read = none_read;
    r.storage.write = count_write;
    r.current_key = &key;
    r.bootstrap_secret = "secret";
    r.work = work;
    r.work_len = sizeof work;
    int64_t next = 0;
    writes = 0;
    CHECK(fpest_renew_step(&c, &r, &next) == FPEST_RENEW_NOT_DUE && next == -1 && writes == 0);
    mbedtls_pk_free(&pk);
    fpest_free(&c);
}

static void test_raw_to_der(void) {
    unsigned char raw[64], der[80];
    size_t n;
    memset(raw, 0x80, 32);    /* r with its top bit set: a leading 0x00 keeps it positive */
    memset(raw + 32, 0x01, 32);
    CHECK(fpest_ecdsa_raw_to_der(raw, 64, der, sizeof der, &n) == FPEST_OK);
    CHECK(der[0] == 0x30 && der[2] == 0x02 && der[3] == 33 && der[4] == 0x00 && der[5] == 0x80 && n == 2 + 35 + 34);
    CHECK(fpest_ecdsa_raw_to_der(raw, 63, der, sizeof der, &n) == FPEST_ERR_ARG);
    CHECK(fpest_ecdsa_raw_to_der(raw, 64, der, 10, &n) == FPEST_ERR_BUFFER);
}

static void test_renew_at(void) {
    int64_t nb = 1767225600, na = nb + 365 * 86400; /* 2026-01-01 + one year */
    int64_t a = fpest_renew_at(nb, na, "sensor-1", NULL), b = fpest_renew_at(nb, na, "sensor-2", NULL);
    CHECK(a == fpest_renew_at(nb, na, "sensor-1", NULL));         /* the same instant at every boot */
    CHECK(a != b);                                                /* spread across devices */
    CHECK(a >= nb + (na - nb) * 67 / 100 && a < nb + (na - nb) * 77 / 100);
    fpest_renew_policy half = {50, 0}; /* 0: the default spread, 10% of the lifetime */
    int64_t h = fpest_renew_at(nb, na, "x", &half);
    CHECK(h >= nb + (na - nb) / 2 && h < nb + (na - nb) * 60 / 100);
    fpest_renew_policy silly = {200, 50};                         /* clamped: always before expiry */
    CHECK(fpest_renew_at(nb, na, "x", &silly) < na);
}

int main(int argc, char **argv) {
    if (argc > 1) data_dir = argv[1];
    test_http();
    test_base64();
    test_pkcs7();
    test_csrattrs();
    test_csr();
    test_raw_to_der();
    test_renew_without_time();
    test_renew_at();
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
