/*
 * fpest: the library's functions as a command, on the POSIX port. What the tests, the docs and the
 * benchmark run; on a device the same calls sit in the firmware.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleetpki_est.h"
#include "fpest_pkcs11.h"
#include "fpest_posix.h"
#include "mbedtls/ecp.h"
#include "mbedtls/error.h"
#include "mbedtls/pem.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/rsa.h"
#include "mbedtls/version.h"
#if defined(MBEDTLS_USE_PSA_CRYPTO)
#include "psa/crypto.h"
#endif

#define EXIT_REFUSED 2   /* the answer failed a check (key, subject, chain, root pin) */
#define EXIT_PENDING 75  /* EX_TEMPFAIL: waiting for an operator */
#define EXIT_USAGE 64

static const char *USAGE =
    "usage: fpest [OPTIONS] COMMAND ...\n"
    "  version                                     this build and the Mbed TLS it runs on\n"
    "  keygen KEY.pem [--curve p256|p384 | --csrattrs]   make a software key (--csrattrs: the one the server asks for)\n"
    "  keygen --psa ID                             make a P-256 key inside PSA (Mbed TLS 3.x with MBEDTLS_USE_PSA_CRYPTO)\n"
    "  cacerts --pin SHA256HEX [--out CAS.pem]     bootstrap: fetch the CA certificates, keep them if the root has this fingerprint\n"
    "  csrattrs                                    which key and signature the server asks for\n"
    "  enroll --id ID --key KEY (--secret S | --idevid CERT.pem --idevid-key KEY) --out CERT.pem [--wait SECONDS] [--csrattrs]\n"
    "  reenroll --id ID --cert CERT.pem --key KEY --new-key KEY --out NEW.pem [--csrattrs]\n"
    "                                              --csrattrs: sign the CSR with the hash csrattrs names\n"
    "  renew --id ID --state DIR --key KEY [--new-key KEY] [--secret S | --idevid CERT.pem --idevid-key KEY] [--fraction PCT] [--now EPOCH]\n"
    "                                              one renewal step: enroll if there is no valid certificate, rekey when due\n"
    "  mqtt --broker HOST:PORT --id ID --cert CERT.pem --key KEY --topic T --message M\n"
    "  bench --devices FILE [--key KEY]            enroll each 'id secret' line of FILE, a new TLS connection each\n"
    "options: --host NAME (localhost) --port N (8443) --label L --root ROOT.pem --pin SHA256HEX --connect-to ADDR\n"
    "         --buf BYTES (8192) --timeout-ms N (10000) --p11-module LIB\n"
    "KEY: a PEM file, pkcs11:token=T;object=LABEL;pin-value=PIN (a token key: signs inside the token), or psa:ID (a\n"
    "     persistent PSA key, Mbed TLS 3.x with MBEDTLS_USE_PSA_CRYPTO: keygen --psa ID makes one)\n"
    "exit: 0 done, 1 error, 2 the answer failed a check (kept nothing), 75 pending (send the same CSR again later), 64 usage\n";

typedef struct opts {
    const char *host, *label, *root, *pin, *connect_to, *p11_module;
    unsigned port, buf, timeout_ms;
} opts;

static fpest_posix px;
static fpest_port io;
static fpest_client cl;
static unsigned char *rxbuf;
/* what a command loaded, freed at exit (the tests run fpest under LeakSanitizer) */
static fpest_p11 p11s[4];
static int p11_used;
static mbedtls_pk_context pks[4];
static int pks_used;
static fpest_key keys[4];
static int keys_used;
static mbedtls_x509_crt certs[4];
static int certs_used;

static int report(const char *what, int rc) {
    if (rc == FPEST_OK) return 0;
    fprintf(stderr, "fpest: %s: %s", what, fpest_strerror(rc));
    if (cl.http_status && (rc == FPEST_ERR_HTTP_STATUS || rc == FPEST_PENDING || rc == FPEST_ERR_CONTENT_TYPE))
        fprintf(stderr, " (HTTP %d%s%s)", cl.http_status, cl.detail[0] ? ": " : "", cl.detail);
    if (cl.mbedtls_err) {
        char m[120];
        mbedtls_strerror(cl.mbedtls_err, m, sizeof m);
        fprintf(stderr, " [Mbed TLS -0x%04x %s]", (unsigned) -cl.mbedtls_err, m);
    }
    if (cl.tls_flags) {
        char m[300];
        mbedtls_x509_crt_verify_info(m, sizeof m, "", cl.tls_flags);
        for (char *p = m; *p; p++) if (*p == '\n') *p = ';';
        fprintf(stderr, " [%s]", m);
    }
    fputc('\n', stderr);
    if (rc == FPEST_PENDING) return EXIT_PENDING;
    if (rc == FPEST_ERR_WRONG_KEY || rc == FPEST_ERR_WRONG_SUBJECT || rc == FPEST_ERR_UNTRUSTED_CHAIN || rc == FPEST_ERR_ROOT_PIN
        || rc == FPEST_ERR_TLS_UNTRUSTED) {
        return EXIT_REFUSED;
    }
    return 1;
}

static const char *arg(int argc, char **argv, const char *name) {
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

static int read_file(const char *path, unsigned char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) { perror(path); return -1; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t) n + 1);
    if (*out == NULL || fread(*out, 1, (size_t) n, f) != (size_t) n) { fclose(f); return -1; }
    (*out)[n] = 0; /* PEM parsers want the NUL counted */
    *len = (size_t) n + 1;
    fclose(f);
    return 0;
}

static int write_cert_pem(const char *path, const mbedtls_x509_crt *crt, const char *mode) {
    unsigned char pem[4096];
    size_t olen;
    if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n", crt->raw.p, crt->raw.len, pem, sizeof pem, &olen) != 0)
        return -1;
    FILE *f = fopen(path, mode);
    if (f == NULL) { perror(path); return -1; }
    fwrite(pem, 1, olen - 1, f);
    return fclose(f);
}

/* pkcs11:token=T;object=L;pin-value=P (RFC 7512 attribute names) */
static int uri_attr(const char *uri, const char *name, char *out, size_t size) {
    size_t nl = strlen(name);
    for (const char *p = uri + 7; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1, *e = strchr(v, ';');
            size_t l = e ? (size_t) (e - v) : strlen(v);
            if (l >= size) return -1;
            memcpy(out, v, l);
            out[l] = 0;
            return 0;
        }
    }
    return -1;
}

static fpest_key *load_key(const opts *o, const char *spec) {
    if (keys_used == 4) return NULL;
    fpest_key *key = &keys[keys_used++];
    if (strncmp(spec, "pkcs11:", 7) == 0) {
        char token[64], object[64], pin[64];
        if (uri_attr(spec, "token", token, sizeof token) || uri_attr(spec, "object", object, sizeof object) || uri_attr(spec, "pin-value", pin, sizeof pin)) {
            fprintf(stderr, "fpest: %s: a token key is pkcs11:token=T;object=LABEL;pin-value=PIN\n", spec);
            return NULL;
        }
        const char *module = o->p11_module ? o->p11_module : getenv("FPEST_PKCS11_MODULE");
        if (module == NULL) module = "/usr/lib/softhsm/libsofthsm2.so";
        fpest_p11 *p = &p11s[p11_used++];
        if (fpest_p11_open(p, module, token, pin) != FPEST_OK || fpest_p11_key(p, object, key) != FPEST_OK) {
            fprintf(stderr, "fpest: %s\n", p->error);
            return NULL;
        }
        return key;
    }
    mbedtls_pk_context *pk = &pks[pks_used++];
    mbedtls_pk_init(pk);
    int ret;
    if (strncmp(spec, "psa:", 4) == 0) {
#if defined(MBEDTLS_USE_PSA_CRYPTO)
        /* a persistent PSA key: Mbed TLS signs with it (CSR and TLS) without ever holding its bytes */
        if ((ret = mbedtls_pk_setup_opaque(pk, mbedtls_svc_key_id_make(0, (psa_key_id_t) strtoul(spec + 4, NULL, 10)))) != 0) {
            fprintf(stderr, "fpest: no PSA key %s (-0x%04x)\n", spec + 4, (unsigned) -ret);
            return NULL;
        }
        return fpest_key_software(key, pk) == FPEST_OK ? key : NULL;
#else
        fprintf(stderr, "fpest: %s: PSA opaque keys need Mbed TLS 3.x built with MBEDTLS_USE_PSA_CRYPTO\n", spec);
        return NULL;
#endif
    }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    ret = mbedtls_pk_parse_keyfile(pk, spec, NULL, mbedtls_ctr_drbg_random, &cl.drbg);
#else
    ret = mbedtls_pk_parse_keyfile(pk, spec, NULL);
#endif
    if (ret != 0) { fprintf(stderr, "fpest: cannot read the key %s (-0x%04x)\n", spec, (unsigned) -ret); return NULL; }
    return fpest_key_software(key, pk) == FPEST_OK ? key : NULL;
}

/* A software key: EC on curve, or RSA of rsa_bits when rsa_bits > 0. */
static int keygen(const char *path, mbedtls_ecp_group_id curve, unsigned rsa_bits, const char *why) {
    mbedtls_pk_context pk;
    static unsigned char pem[4096];
    char what[16];
    mbedtls_pk_init(&pk);
    int ret;
    if (rsa_bits > 0) {
        ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        if (ret == 0) ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), mbedtls_ctr_drbg_random, &cl.drbg, rsa_bits, 65537);
        snprintf(what, sizeof what, "RSA %u", rsa_bits);
    } else {
        ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (ret == 0) ret = mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &cl.drbg);
        snprintf(what, sizeof what, "%s", curve == MBEDTLS_ECP_DP_SECP384R1 ? "P-384" : "P-256");
    }
    if (ret == 0) ret = mbedtls_pk_write_key_pem(&pk, pem, sizeof pem);
    mbedtls_pk_free(&pk);
    if (ret != 0) {
        fprintf(stderr, "fpest: key generation failed (-0x%04x)\n", (unsigned) -ret);
        return 1;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) { perror(path); return 1; }
    fputs((char *) pem, f);
    fclose(f);
    mbedtls_platform_zeroize(pem, sizeof pem);
    printf("%s key made%s: %s\n", what, why, path);
    return 0;
}

/* --csrattrs: the hash csrattrs names for the CSR (SHA-256 without the flag) */
static int csr_md(int argc, char **argv, mbedtls_md_type_t *md) {
    *md = MBEDTLS_MD_SHA256;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--csrattrs") != 0) continue;
        fpest_key_choice a;
        int rc = fpest_csrattrs(&cl, &a);
        if (rc != FPEST_OK) return report("csrattrs", rc);
        *md = a.md;
        printf("CSR signed with %s, as csrattrs asks\n", a.md == MBEDTLS_MD_SHA384 ? "SHA-384" : "SHA-256");
    }
    return 0;
}

static int parse_hex32(const char *hex, unsigned char out[32]) {
    size_t n = 0;
    for (const char *p = hex; *p && n < 64; p++) {
        if (*p == ':') continue;
        int v = (*p >= '0' && *p <= '9') ? *p - '0' : (*p | 32) >= 'a' && (*p | 32) <= 'f' ? (*p | 32) - 'a' + 10 : -1;
        if (v < 0) return -1;
        out[n / 2] = (unsigned char) (n % 2 ? out[n / 2] | v : v << 4);
        n++;
    }
    return n == 64 ? 0 : -1;
}

static mbedtls_x509_crt *load_cert(const char *path) {
    if (certs_used == 4) return NULL;
    mbedtls_x509_crt *crt = &certs[certs_used++];
    mbedtls_x509_crt_init(crt);
    int ret = mbedtls_x509_crt_parse_file(crt, path);
    if (ret != 0) fprintf(stderr, "fpest: cannot read the certificate %s (-0x%04x)\n", path, (unsigned) -ret);
    return ret == 0 ? crt : NULL;
}

static void cleanup(void) {
    for (int i = 0; i < keys_used; i++) fpest_key_free(&keys[i]);
    for (int i = 0; i < pks_used; i++) mbedtls_pk_free(&pks[i]);
    for (int i = 0; i < certs_used; i++) mbedtls_x509_crt_free(&certs[i]);
    for (int i = 0; i < p11_used; i++) fpest_p11_close(&p11s[i]);
    if (p11_used) fpest_p11_finalize(&p11s[0]);
    fpest_free(&cl);
    free(rxbuf);
}

static void describe(const char *verb, const mbedtls_x509_crt *crt) {
    char subject[200], serial[80];
    mbedtls_x509_dn_gets(subject, sizeof subject, &crt->subject);
    mbedtls_x509_serial_gets(serial, sizeof serial, &crt->serial);
    printf("%s %s, serial %s, valid until %04d-%02d-%02dT%02d:%02d:%02dZ\n", verb, subject, serial, crt->valid_to.year, crt->valid_to.mon,
           crt->valid_to.day, crt->valid_to.hour, crt->valid_to.min, crt->valid_to.sec);
}

/* enroll / reenroll, waiting on 202 when asked to */
static int enroll(const opts *o, int argc, char **argv, int re) {
    const char *id = arg(argc, argv, "--id"), *keyspec = arg(argc, argv, re ? "--new-key" : "--key"), *out = arg(argc, argv, "--out");
    const char *secret = arg(argc, argv, "--secret"), *idevid = arg(argc, argv, "--idevid"), *wait = arg(argc, argv, "--wait");
    const char *cur = arg(argc, argv, "--cert"), *curkey = arg(argc, argv, re ? "--key" : "--idevid-key");
    if (id == NULL || keyspec == NULL || out == NULL || (re && (cur == NULL || curkey == NULL)) || (!re && !secret && !(idevid && curkey))) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    fpest_key *key = load_key(o, keyspec), *ckey = NULL;
    mbedtls_x509_crt *ccert = NULL, got;
    if (key == NULL) return 1;
    const char *cpath = re ? cur : idevid;
    if (cpath != NULL && ((ccert = load_cert(cpath)) == NULL || (ckey = load_key(o, curkey)) == NULL)) return 1;
    unsigned char csr[2048];
    size_t csr_len;
    mbedtls_md_type_t md;
    int rc = csr_md(argc, argv, &md);
    if (rc != 0) return rc;
    rc = fpest_make_csr(&cl, key, id, md, csr, sizeof csr, &csr_len);
    if (rc != FPEST_OK) return report("making the CSR", rc);
    fpest_enroll_req req = {id, key, csr, csr_len, secret, ccert, ckey, re};
    mbedtls_x509_crt_init(&got);
    long waited = 0, max_wait = wait ? atol(wait) : 0;
    for (;;) {
        rc = fpest_enroll(&cl, &req, &got);
        if (rc != FPEST_PENDING || waited >= max_wait) break;
        unsigned s = cl.retry_after < 1 ? 1 : cl.retry_after;
        if (waited + (long) s > max_wait) s = (unsigned) (max_wait - waited);
        printf("pending: the request waits for an operator; sending the same CSR again in %u s\n", s);
        fflush(stdout);
        sleep(s);
        waited += s;
    }
    if (rc != FPEST_OK) {
        mbedtls_x509_crt_free(&got);
        return report(re ? "simplereenroll" : "simpleenroll", rc);
    }
    if (write_cert_pem(out, &got, "w") != 0) rc = 1;
    else {
        describe(re ? "renewed:" : "enrolled:", &got);
        printf("checked: this device's key, CN=%s, chains to the pinned root; written to %s\n", id, out);
    }
    mbedtls_x509_crt_free(&got);
    return rc;
}

static int64_t fixed_now;
static int64_t fixed_clock(void *ctx) {
    (void) ctx;
    return fixed_now;
}

static int renew(const opts *o, int argc, char **argv) {
    const char *id = arg(argc, argv, "--id"), *state = arg(argc, argv, "--state"), *keyspec = arg(argc, argv, "--key");
    const char *newkey = arg(argc, argv, "--new-key"), *fraction = arg(argc, argv, "--fraction"), *now = arg(argc, argv, "--now");
    if (id == NULL || state == NULL || keyspec == NULL) { fputs(USAGE, stderr); return EXIT_USAGE; }
    fpest_key *key = load_key(o, keyspec), *next = NULL;
    if (key == NULL || (newkey && (next = load_key(o, newkey)) == NULL)) return 1;
    static unsigned char work[4096];
    fpest_renewal r;
    memset(&r, 0, sizeof r);
    r.device_id = id;
    px.dir = state;
    fpest_posix_storage(&r.storage, &px);
    r.policy.fraction_pct = fraction ? (unsigned) atoi(fraction) : 0;
    r.current_key = key;
    r.next_key = next;
    r.bootstrap_secret = arg(argc, argv, "--secret");
    const char *idevid = arg(argc, argv, "--idevid"), *idevid_key = arg(argc, argv, "--idevid-key");
    if (idevid != NULL && ((r.bootstrap_cert = load_cert(idevid)) == NULL || idevid_key == NULL || (r.bootstrap_key = load_key(o, idevid_key)) == NULL))
        return 1;
    r.work = work;
    r.work_len = sizeof work;
    int mdrc = csr_md(argc, argv, &r.md);
    if (mdrc != 0) return mdrc;
    if (now) { /* a clock set by the caller: what the device does later in its certificate's life */
        fixed_now = atoll(now);
        io.now = fixed_clock;
    }
    int64_t next_at;
    int rc;
    rc = fpest_renew_step(&cl, &r, &next_at);
    if (rc == FPEST_RENEW_NOT_DUE) {
        time_t t = (time_t) next_at;
        char when[40] = "unknown (no time yet)";
        if (next_at >= 0) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        printf("not due: renewal at %s\n", when);
        return 0;
    }
    if (rc == FPEST_RENEWED) {
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        char path[4096];
        snprintf(path, sizeof path, "%s/cert", state);
        unsigned char *der;
        size_t len;
        if (read_file(path, &der, &len) == 0) {
            if (mbedtls_x509_crt_parse_der(&crt, der, len - 1) == 0) describe("installed:", &crt);
            free(der);
        }
        mbedtls_x509_crt_free(&crt);
        return 0;
    }
    return report("renewal", rc);
}

static int mqtt_write(fpest_tls *t, const unsigned char *p, size_t n) {
    while (n > 0) {
        int w = mbedtls_ssl_write(&t->ssl, p, n);
        if (w == MBEDTLS_ERR_SSL_WANT_READ || w == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static int mqtt_read(fpest_tls *t, unsigned char *p, size_t n) {
    while (n > 0) {
        int r = mbedtls_ssl_read(&t->ssl, p, n);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue;
#endif
        if (r <= 0) return -1;
        p += r;
        n -= (size_t) r;
    }
    return 0;
}

/* MQTT 3.1.1 over mutual TLS: CONNECT (client id = device id), PUBLISH QoS 1, wait for PUBACK, DISCONNECT. */
static int mqtt(const opts *o, int argc, char **argv) {
    const char *broker = arg(argc, argv, "--broker"), *id = arg(argc, argv, "--id"), *cert = arg(argc, argv, "--cert");
    const char *keyspec = arg(argc, argv, "--key"), *topic = arg(argc, argv, "--topic"), *msg = arg(argc, argv, "--message");
    if (!broker || !id || !cert || !keyspec || !topic || !msg || !strchr(broker, ':')) { fputs(USAGE, stderr); return EXIT_USAGE; }
    char host[256];
    size_t hl = (size_t) (strchr(broker, ':') - broker);
    if (hl >= sizeof host || strlen(id) > 200 || strlen(topic) > 200 || strlen(msg) > 400) return EXIT_USAGE;
    memcpy(host, broker, hl);
    host[hl] = 0;
    fpest_key *key;
    mbedtls_x509_crt *crt;
    if ((crt = load_cert(cert)) == NULL || (key = load_key(o, keyspec)) == NULL) return 1;
    fpest_tls t;
    int rc = fpest_tls_open(&cl, &t, host, (uint16_t) atoi(strchr(broker, ':') + 1), crt, key);
    if (rc != FPEST_OK) return report("TLS with the broker", rc);
    unsigned char pkt[1024], ack[4];
    size_t il = strlen(id), tl = strlen(topic), ml = strlen(msg), n = 0;
    pkt[n++] = 0x10;
    pkt[n++] = (unsigned char) (12 + il);
    memcpy(pkt + n, "\x00\x04MQTT\x04\x02\x00\x3c", 10);
    n += 10;
    pkt[n++] = (unsigned char) (il >> 8);
    pkt[n++] = (unsigned char) il;
    memcpy(pkt + n, id, il);
    n += il;
    if (mqtt_write(&t, pkt, n) != 0 || mqtt_read(&t, ack, 4) != 0 || ack[0] != 0x20 || ack[3] != 0) {
        fprintf(stderr, "fpest: the broker refused the connection (CONNACK %s %d)\n", ack[0] == 0x20 ? "return code" : "missing", ack[3]);
        fpest_tls_close(&t);
        return 1;
    }
    size_t rl = 2 + tl + 2 + ml;
    n = 0;
    pkt[n++] = 0x32;
    if (rl < 128) pkt[n++] = (unsigned char) rl;
    else { pkt[n++] = (unsigned char) (rl % 128 | 0x80); pkt[n++] = (unsigned char) (rl / 128); }
    pkt[n++] = (unsigned char) (tl >> 8);
    pkt[n++] = (unsigned char) tl;
    memcpy(pkt + n, topic, tl);
    n += tl;
    pkt[n++] = 0;
    pkt[n++] = 1; /* packet id */
    memcpy(pkt + n, msg, ml);
    n += ml;
    if (mqtt_write(&t, pkt, n) != 0 || mqtt_read(&t, ack, 4) != 0 || ack[0] != 0x40 || ack[3] != 1) {
        fprintf(stderr, "fpest: the broker did not acknowledge the message\n");
        fpest_tls_close(&t);
        return 1;
    }
    mqtt_write(&t, (const unsigned char *) "\xe0\x00", 2);
    fpest_tls_close(&t);
    printf("published to %s as %s over mutual TLS (Mbed TLS), acknowledged\n", topic, id);
    return 0;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Enroll each device of FILE ('id secret' per line) once, a new TLS connection each. */
static int bench(const opts *o, int argc, char **argv) {
    const char *file = arg(argc, argv, "--devices"), *keyspec = arg(argc, argv, "--key");
    if (file == NULL) { fputs(USAGE, stderr); return EXIT_USAGE; }
    FILE *f = fopen(file, "r");
    if (f == NULL) { perror(file); return 1; }
    fpest_key *key = NULL;
    if (keyspec && (key = load_key(o, keyspec)) == NULL) { fclose(f); return 1; }
    char id[128], secret[128];
    int done = 0;
    double start = seconds();
    while (fscanf(f, "%127s %127s", id, secret) == 2) {
        mbedtls_pk_context pk;
        fpest_key fresh;
        if (keyspec == NULL) { /* a new key per device, as devices have */
            mbedtls_pk_init(&pk);
            mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
            mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &cl.drbg);
            fpest_key_software(&fresh, &pk);
        }
        unsigned char csr[1024];
        size_t csr_len;
        mbedtls_x509_crt got;
        mbedtls_x509_crt_init(&got);
        fpest_key *k = keyspec ? key : &fresh;
        int rc = fpest_make_csr(&cl, k, id, MBEDTLS_MD_SHA256, csr, sizeof csr, &csr_len);
        fpest_enroll_req req = {id, k, csr, csr_len, secret, NULL, NULL, 0};
        if (rc == FPEST_OK) rc = fpest_enroll(&cl, &req, &got);
        mbedtls_x509_crt_free(&got);
        if (keyspec == NULL) mbedtls_pk_free(&pk);
        if (rc != FPEST_OK) { fclose(f); return report(id, rc); }
        done++;
    }
    fclose(f);
    double s = seconds() - start;
    printf("enrolled %d devices in %.3f s: %.1f enrollments/s (one TLS connection each)\n", done, s, s > 0 ? done / s : 0.0);
    return 0;
}

static int run_command(int argc, char **argv) {
    opts o = {"localhost", NULL, NULL, NULL, NULL, NULL, 8443, 8192, 0};
    int i = 1;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc) { fputs(USAGE, stderr); return EXIT_USAGE; }
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--host")) o.host = v;
        else if (!strcmp(k, "--port")) o.port = (unsigned) atoi(v);
        else if (!strcmp(k, "--label")) o.label = v;
        else if (!strcmp(k, "--root")) o.root = v;
        else if (!strcmp(k, "--pin")) o.pin = v;
        else if (!strcmp(k, "--connect-to")) o.connect_to = v;
        else if (!strcmp(k, "--buf")) o.buf = (unsigned) atoi(v);
        else if (!strcmp(k, "--timeout-ms")) o.timeout_ms = (unsigned) atoi(v);
        else if (!strcmp(k, "--p11-module")) o.p11_module = v;
        else { fprintf(stderr, "fpest: unknown option %s\n%s", k, USAGE); return EXIT_USAGE; }
    }
    if (i >= argc) { fputs(USAGE, stderr); return EXIT_USAGE; }
    const char *cmd = argv[i];
    argc -= i + 1;
    argv += i + 1;
    if (o.buf < 1024 || o.buf > (1u << 24)) { fprintf(stderr, "fpest: --buf must be 1024..16777216\n"); return EXIT_USAGE; }
    rxbuf = malloc(o.buf);
    fpest_posix_port(&io, &px);
    px.connect_to = o.connect_to;
    fpest_config cfg = {o.host, (uint16_t) o.port, o.label, &io, rxbuf, o.buf, o.timeout_ms, 0};
    int rc = fpest_init(&cl, &cfg);
    if (rc != FPEST_OK) return report("init", rc);
    if (!strcmp(cmd, "version")) {
        char v[18] = MBEDTLS_VERSION_STRING;
#ifdef MBEDTLS_VERSION_C
        mbedtls_version_get_string(v); /* the library linked, not only the headers compiled against */
#endif
        printf("fpest %s (libfleetpki-est), Mbed TLS %s\n", FPEST_VERSION, v);
        return 0;
    }
    if (!strcmp(cmd, "keygen") && arg(argc, argv, "--psa") != NULL) {
#if defined(MBEDTLS_USE_PSA_CRYPTO)
        /* a P-256 key made inside PSA, persistent under the id, usable to sign and never exportable */
        psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
        psa_key_id_t made;
        unsigned long id = strtoul(arg(argc, argv, "--psa"), NULL, 10);
        psa_set_key_id(&a, mbedtls_svc_key_id_make(0, (psa_key_id_t) id));
        psa_set_key_lifetime(&a, PSA_KEY_LIFETIME_PERSISTENT);
        psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
        psa_set_key_bits(&a, 256);
        psa_set_key_usage_flags(&a, PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH);
        psa_set_key_algorithm(&a, PSA_ALG_ECDSA(PSA_ALG_ANY_HASH));
        psa_status_t st = psa_generate_key(&a, &made);
        if (st != PSA_SUCCESS) { fprintf(stderr, "fpest: psa_generate_key failed: %d\n", (int) st); return 1; }
        printf("P-256 key made in PSA: psa:%lu (persistent, signs, not exportable)\n", id);
        return 0;
#else
        fprintf(stderr, "fpest: keygen --psa needs Mbed TLS 3.x built with MBEDTLS_USE_PSA_CRYPTO\n");
        return 1;
#endif
    }
    int from_server = 0; /* keygen --csrattrs asks the server, after the root is pinned */
    for (int k = 0; k < argc; k++) from_server |= !strcmp(argv[k], "--csrattrs");
    if (!strcmp(cmd, "keygen") && !from_server) {
        const char *curve = arg(argc, argv, "--curve");
        if (argc < 1 || argv[0][0] == '-') { fputs(USAGE, stderr); return EXIT_USAGE; }
        return keygen(argv[0], curve && !strcmp(curve, "p384") ? MBEDTLS_ECP_DP_SECP384R1 : MBEDTLS_ECP_DP_SECP256R1, 0, "");
    }
    if (o.root) {
        unsigned char *pem;
        size_t len;
        if (read_file(o.root, &pem, &len) != 0) return 1;
        rc = fpest_pin_root(&cl, pem, len);
        free(pem);
        if (rc != FPEST_OK) return report("reading the root", rc);
    }
    if (!strcmp(cmd, "keygen")) { /* --csrattrs: the key the server asks for */
        if (argc < 1 || argv[0][0] == '-' || !o.root) {
            fprintf(stderr, "fpest: keygen KEY.pem --csrattrs needs --root ROOT.pem (it asks the server)\n");
            return EXIT_USAGE;
        }
        fpest_key_choice a;
        if ((rc = fpest_csrattrs(&cl, &a)) != FPEST_OK) return report("csrattrs", rc);
        return keygen(argv[0], a.key_type == MBEDTLS_PK_NONE ? MBEDTLS_ECP_DP_SECP256R1 : a.curve, a.key_type == MBEDTLS_PK_RSA ? a.rsa_bits : 0,
                      " (as csrattrs asks)");
    }
    if (!strcmp(cmd, "cacerts")) {
        unsigned char fp[32];
        const char *pin = arg(argc, argv, "--pin") ? arg(argc, argv, "--pin") : o.pin, *out = arg(argc, argv, "--out");
        if ((pin == NULL && o.root == NULL) || (pin != NULL && parse_hex32(pin, fp) != 0)) {
            fprintf(stderr, "fpest: cacerts needs --pin SHA256HEX (64 hex digits, colons allowed) or --root\n");
            return EXIT_USAGE;
        }
        if ((rc = fpest_cacerts(&cl, pin ? fp : NULL)) != FPEST_OK) return report("cacerts", rc);
        describe("root pinned:", &cl.root);
        for (mbedtls_x509_crt *c = &cl.cas; c != NULL && c->raw.len > 0; c = c->next) describe("CA:", c);
        if (out) { /* the root first, then the CAs below it */
            if (write_cert_pem(out, &cl.root, "w") != 0) return 1;
            for (mbedtls_x509_crt *c = &cl.cas; c != NULL && c->raw.len > 0; c = c->next)
                if (write_cert_pem(out, c, "a") != 0) return 1;
        }
        return 0;
    }
    if (!strcmp(cmd, "csrattrs")) {
        fpest_key_choice a;
        if ((rc = fpest_csrattrs(&cl, &a)) != FPEST_OK) return report("csrattrs", rc);
        if (a.key_type == MBEDTLS_PK_ECKEY)
            printf("key: EC %s\n", a.curve == MBEDTLS_ECP_DP_SECP384R1 ? "P-384" : "P-256");
        else if (a.key_type == MBEDTLS_PK_RSA)
            printf("key: RSA %u\n", a.rsa_bits);
        else
            printf("key: no preference\n");
        printf("signature: %s\n", a.md == MBEDTLS_MD_SHA384 ? "SHA-384" : "SHA-256");
        return 0;
    }
    if (!o.root && !o.pin) { fprintf(stderr, "fpest: %s needs --root ROOT.pem (or --pin to bootstrap with cacerts first)\n", cmd); return EXIT_USAGE; }
    if (!o.root) {
        unsigned char fp[32];
        if (parse_hex32(o.pin, fp) != 0) { fprintf(stderr, "fpest: --pin wants 64 hex digits\n"); return EXIT_USAGE; }
        if ((rc = fpest_cacerts(&cl, fp)) != FPEST_OK) return report("cacerts", rc);
    } else if (strcmp(cmd, "mqtt") != 0) {
        /* the CAs between the root and issued certificates, each verified against the pinned root */
        if ((rc = fpest_cacerts(&cl, NULL)) != FPEST_OK) return report("cacerts", rc);
    }
    if (!strcmp(cmd, "enroll")) return enroll(&o, argc, argv, 0);
    if (!strcmp(cmd, "reenroll")) return enroll(&o, argc, argv, 1);
    if (!strcmp(cmd, "renew")) return renew(&o, argc, argv);
    if (!strcmp(cmd, "mqtt")) return mqtt(&o, argc, argv);
    if (!strcmp(cmd, "bench")) return bench(&o, argc, argv);
    fprintf(stderr, "fpest: unknown command %s\n%s", cmd, USAGE);
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    int rc = run_command(argc, argv);
    cleanup();
    return rc;
}
