/*
 * The key interface and the CSR. A software key is an Mbed TLS pk; an opaque key is a public point
 * and a sign callback (secure element, PSA opaque key, PKCS#11 token). The CSR is written here and
 * signed through the interface, so no private key byte passes through the library.
 */
#include <string.h>

#include "fleetpki_est.h"
#include "fpest_compat.h"
#include "fpest_internal.h"
#include "mbedtls/asn1write.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/oid.h"
#include "mbedtls/rsa.h"

#ifdef FPEST_OPAQUE_TLS
#include "mbedtls/pk_internal.h"

/* Mbed TLS 2.x: a pk whose context is the fpest_key (its first member is the public EC keypair,
 * which is what mbedtls_pk_ec() reads), and whose signature comes from the callback. */
static size_t op_bitlen(const void *ctx) { return ((const mbedtls_ecp_keypair *) ctx)->grp.pbits; }
static int op_can_do(mbedtls_pk_type_t type) { return type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA; }
static int op_verify(void *ctx, mbedtls_md_type_t md, const unsigned char *hash, size_t hash_len, const unsigned char *sig, size_t sig_len) {
    (void) md;
    return mbedtls_ecdsa_read_signature((mbedtls_ecdsa_context *) ctx, hash, hash_len, sig, sig_len);
}
static int op_sign(void *ctx, mbedtls_md_type_t md, const unsigned char *hash, size_t hash_len, unsigned char *sig, size_t *sig_len,
                   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng) {
    fpest_key *k = (fpest_key *) ctx;
    (void) f_rng;
    (void) p_rng;
    /* Mbed TLS 2.x gives no size: its callers reserve MBEDTLS_PK_SIGNATURE_MAX_SIZE */
    return k->sign(k->sign_ctx, md, hash, hash_len, sig, MBEDTLS_ECDSA_MAX_LEN, sig_len) == 0 ? 0 : MBEDTLS_ERR_PK_BAD_INPUT_DATA;
}
static void op_free(void *ctx) { (void) ctx; /* fpest_key_free frees the keypair */ }

static const mbedtls_pk_info_t opaque_info = {
    MBEDTLS_PK_ECKEY, "fpest-opaque", op_bitlen, op_can_do, op_verify, op_sign,
#if defined(MBEDTLS_ECDSA_C) && defined(MBEDTLS_ECP_RESTARTABLE)
    NULL, NULL,
#endif
    NULL, NULL, NULL, NULL, op_free,
#if defined(MBEDTLS_ECDSA_C) && defined(MBEDTLS_ECP_RESTARTABLE)
    NULL, NULL,
#endif
    NULL,
};
#endif

int fpest_key_software(fpest_key *k, mbedtls_pk_context *pk) {
    if (k == NULL || pk == NULL) return FPEST_ERR_ARG;
    memset(k, 0, sizeof *k);
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    if (t != MBEDTLS_PK_ECKEY && t != MBEDTLS_PK_RSA && t != MBEDTLS_PK_OPAQUE) return FPEST_ERR_KEY;
    k->pk = pk;
    k->pub = pk;
    return FPEST_OK;
}

int fpest_key_opaque_ec(fpest_key *k, mbedtls_ecp_group_id grp, const unsigned char *point, size_t point_len, fpest_sign_fn sign,
                        void *sign_ctx) {
    if (k == NULL || point == NULL || sign == NULL) return FPEST_ERR_ARG;
    memset(k, 0, sizeof *k);
    if (grp != MBEDTLS_ECP_DP_SECP256R1 && grp != MBEDTLS_ECP_DP_SECP384R1) return FPEST_ERR_KEY;
    k->sign = sign;
    k->sign_ctx = sign_ctx;
    k->opaque = 1;
    mbedtls_ecp_keypair_init(&k->ec);
    /* the public half as an ECKEY pk, so the CSR, the TLS layer and the checks read it like any key */
    mbedtls_pk_init(&k->own);
#ifdef FPEST_OPAQUE_TLS
    if (mbedtls_ecp_group_load(&k->ec.grp, grp) != 0 || mbedtls_ecp_point_read_binary(&k->ec.grp, &k->ec.Q, point, point_len) != 0
        || mbedtls_ecp_check_pubkey(&k->ec.grp, &k->ec.Q) != 0) {
        mbedtls_ecp_keypair_free(&k->ec);
        return FPEST_ERR_KEY;
    }
    k->own.pk_info = &opaque_info;
    k->own.pk_ctx = k;
#else
    /* Mbed TLS 3.x: a public-only pk for the CSR and the checks; TLS needs a PSA opaque key instead */
    if (mbedtls_pk_setup(&k->own, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0
        || mbedtls_ecp_group_load(&mbedtls_pk_ec(k->own)->FPEST_PRIV(grp), grp) != 0
        || mbedtls_ecp_point_read_binary(&mbedtls_pk_ec(k->own)->FPEST_PRIV(grp), &mbedtls_pk_ec(k->own)->FPEST_PRIV(Q), point, point_len) != 0) {
        mbedtls_pk_free(&k->own);
        return FPEST_ERR_KEY;
    }
#endif
    k->pk = &k->own;
    k->pub = &k->own;
    return FPEST_OK;
}

#ifdef MBEDTLS_PK_RSA_ALT_SUPPORT
/* Mbed TLS's RSA-alt hooks over the callback */
static size_t rsa_alt_len(void *ctx) { return mbedtls_pk_get_len(&((fpest_key *) ctx)->rsa_pub); }
static int rsa_alt_decrypt(void *ctx,
#ifndef FPEST_MBEDTLS3
                           int mode,
#endif
                           size_t *olen, const unsigned char *input, unsigned char *output, size_t output_max_len) {
    (void) ctx; (void) olen; (void) input; (void) output; (void) output_max_len;
#ifndef FPEST_MBEDTLS3
    (void) mode;
#endif
    return MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE; /* a device key signs; RSA key exchange is not offered */
}
static int rsa_alt_sign(void *ctx, int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
#ifndef FPEST_MBEDTLS3
                        int mode,
#endif
                        mbedtls_md_type_t md, unsigned int hash_len, const unsigned char *hash, unsigned char *sig) {
    fpest_key *k = (fpest_key *) ctx;
    size_t len = 0, n = mbedtls_pk_get_len(&k->rsa_pub);
    (void) f_rng; (void) p_rng;
#ifndef FPEST_MBEDTLS3
    if (mode != MBEDTLS_RSA_PRIVATE) return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
#endif
    if (k->sign(k->sign_ctx, md, hash, hash_len, sig, n, &len) != 0 || len != n) return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
    return 0;
}
#endif

int fpest_key_opaque_rsa(fpest_key *k, const unsigned char *spki, size_t spki_len, fpest_sign_fn sign, void *sign_ctx) {
    if (k == NULL || spki == NULL || sign == NULL) return FPEST_ERR_ARG;
    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->rsa_pub);
    mbedtls_pk_init(&k->own);
    k->sign = sign;
    k->sign_ctx = sign_ctx;
    k->opaque = 2;
    if (mbedtls_pk_parse_public_key(&k->rsa_pub, spki, spki_len) != 0 || mbedtls_pk_get_type(&k->rsa_pub) != MBEDTLS_PK_RSA) {
        mbedtls_pk_free(&k->rsa_pub);
        return FPEST_ERR_KEY;
    }
    k->pub = &k->rsa_pub;
    k->pk = &k->rsa_pub; /* without RSA-alt: CSRs only; TLS refuses a key it cannot sign with */
#ifdef MBEDTLS_PK_RSA_ALT_SUPPORT
    if (mbedtls_pk_setup_rsa_alt(&k->own, k, rsa_alt_decrypt, rsa_alt_sign, rsa_alt_len) != 0) {
        mbedtls_pk_free(&k->rsa_pub);
        return FPEST_ERR_KEY;
    }
    k->pk = &k->own;
#endif
    return FPEST_OK;
}

void fpest_key_free(fpest_key *k) {
    if (k == NULL) return;
    if (k->opaque == 2) {
        mbedtls_pk_free(&k->own);
        mbedtls_pk_free(&k->rsa_pub);
    } else if (k->opaque) {
#ifdef FPEST_OPAQUE_TLS
        mbedtls_ecp_keypair_free(&k->ec);
#else
        mbedtls_pk_free(&k->own);
#endif
    }
    memset(k, 0, sizeof *k);
}

int fpest_ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len, unsigned char *der, size_t der_size, size_t *der_len) {
    if (raw == NULL || der == NULL || der_len == NULL || raw_len == 0 || raw_len % 2 != 0 || raw_len > 132) return FPEST_ERR_ARG;
    unsigned char tmp[MBEDTLS_ECDSA_MAX_LEN];
    unsigned char *p = tmp + sizeof tmp;
    mbedtls_mpi r, s;
    int len = 0, ret;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if ((ret = mbedtls_mpi_read_binary(&r, raw, raw_len / 2)) == 0 && (ret = mbedtls_mpi_read_binary(&s, raw + raw_len / 2, raw_len / 2)) == 0) {
        int n;
        if ((n = mbedtls_asn1_write_mpi(&p, tmp, &s)) < 0) ret = n; else len += n;
        if (ret == 0 && (n = mbedtls_asn1_write_mpi(&p, tmp, &r)) < 0) ret = n; else if (ret == 0) len += n;
        if (ret == 0 && (n = mbedtls_asn1_write_len(&p, tmp, (size_t) len)) < 0) ret = n; else if (ret == 0) len += n;
        if (ret == 0 && (n = mbedtls_asn1_write_tag(&p, tmp, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0) ret = n; else if (ret == 0) len += n;
    }
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    if (ret != 0) return FPEST_ERR_CRYPTO;
    if ((size_t) len > der_size) return FPEST_ERR_BUFFER;
    memcpy(der, p, (size_t) len);
    *der_len = (size_t) len;
    return FPEST_OK;
}

int fpest_same_key(const mbedtls_pk_context *a, const mbedtls_pk_context *b) {
    unsigned char da[600], db[600]; /* an RSA 4096 key is 550 bytes of DER */
    int na = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *) a, da, sizeof da);
    int nb = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *) b, db, sizeof db);
    return na > 0 && na == nb && memcmp(da + sizeof da - na, db + sizeof db - nb, (size_t) na) == 0;
}

/* Sign hash with the key: through the callback for an opaque key, mbedtls_pk_sign for a software one. */
static int key_sign(fpest_client *c, fpest_key *k, mbedtls_md_type_t md, const unsigned char *hash, size_t hash_len, unsigned char *sig,
                    size_t sig_size, size_t *sig_len) {
    if (k->opaque) return k->sign(k->sign_ctx, md, hash, hash_len, sig, sig_size, sig_len) == 0 ? FPEST_OK : FPEST_ERR_KEY;
    int ret = FPEST_PK_SIGN(k->pk, md, hash, hash_len, sig, sig_size, sig_len, mbedtls_ctr_drbg_random, &c->drbg);
    if (ret != 0) { c->mbedtls_err = ret; return FPEST_ERR_KEY; }
    return FPEST_OK;
}

/* Step a backwards DER writer: len += n, or return what failed. */
#define W(expr) do { int n_ = (expr); if (n_ < 0) return n_ == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL ? FPEST_ERR_BUFFER : FPEST_ERR_CRYPTO; len += (size_t) n_; } while (0)

/* AlgorithmIdentifier of the signature: ECDSA without parameters (RFC 5758), RSA with NULL. */
static int write_sig_alg(unsigned char **p, unsigned char *start, mbedtls_pk_type_t pk_type, mbedtls_md_type_t md, size_t *out) {
    const char *oid;
    size_t oid_len, len = 0;
    int is_rsa = pk_type == MBEDTLS_PK_RSA;
    if (mbedtls_oid_get_oid_by_sig_alg(is_rsa ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECDSA, md, &oid, &oid_len) != 0) return FPEST_ERR_KEY;
    if (is_rsa) W(mbedtls_asn1_write_null(p, start));
    W(mbedtls_asn1_write_oid(p, start, oid, oid_len));
    W(mbedtls_asn1_write_len(p, start, len));
    W(mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    *out = len;
    return FPEST_OK;
}

int fpest_make_csr(fpest_client *c, fpest_key *key, const char *device_id, mbedtls_md_type_t md, unsigned char *out, size_t out_size,
                   size_t *out_len) {
    if (c == NULL || key == NULL || key->pub == NULL || device_id == NULL || out == NULL || out_len == NULL) return FPEST_ERR_ARG;
    size_t id_len = strlen(device_id);
    if (id_len == 0 || id_len > 64) return FPEST_ERR_ARG; /* X.520 ub-common-name */
    if (md != MBEDTLS_MD_SHA256 && md != MBEDTLS_MD_SHA384) md = MBEDTLS_MD_SHA256;
    unsigned char *start = out, *p = out + out_size;
    size_t len = 0, info_len, name_len;
    /* CertificationRequestInfo ::= SEQUENCE { version 0, subject Name, subjectPKInfo, attributes [0] } */
    W(mbedtls_asn1_write_len(&p, start, 0));
    W(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0));
    int spki = mbedtls_pk_write_pubkey_der(key->pub, start, (size_t) (p - start));
    if (spki < 0) return spki == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL ? FPEST_ERR_BUFFER : FPEST_ERR_KEY;
    /* mbedtls_pk_write_pubkey_der wrote at the end of [start, p) */
    p -= spki;
    len += (size_t) spki;
    /* subject: SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String device id } } } */
    size_t before = len;
    W(mbedtls_asn1_write_raw_buffer(&p, start, (const unsigned char *) device_id, id_len));
    W(mbedtls_asn1_write_len(&p, start, id_len));
    W(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_UTF8_STRING));
    W(mbedtls_asn1_write_oid(&p, start, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN)));
    name_len = len - before;
    W(mbedtls_asn1_write_len(&p, start, name_len));
    W(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    name_len = len - before;
    W(mbedtls_asn1_write_len(&p, start, name_len));
    W(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET));
    name_len = len - before;
    W(mbedtls_asn1_write_len(&p, start, name_len));
    W(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    W(mbedtls_asn1_write_int(&p, start, 0));
    W(mbedtls_asn1_write_len(&p, start, len));
    W(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    info_len = len;
    unsigned char *info = p;

    unsigned char hash[MBEDTLS_MD_MAX_SIZE], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE > 0 ? MBEDTLS_PK_SIGNATURE_MAX_SIZE : 1024];
    size_t sig_len = 0;
    const mbedtls_md_info_t *mdi = mbedtls_md_info_from_type(md);
    if (mdi == NULL || mbedtls_md(mdi, info, info_len, hash) != 0) return FPEST_ERR_CRYPTO;
    int rc = key_sign(c, key, md, hash, mbedtls_md_get_size(mdi), sig, sizeof sig, &sig_len);
    if (rc != FPEST_OK) return rc;
    if (sig_len == 0 || sig_len > sizeof sig) return FPEST_ERR_KEY;

    /* signatureAlgorithm and signature BIT STRING, written below the info, then the info moved up */
    unsigned char tail[32 + sizeof sig];
    unsigned char *q = tail + sizeof tail;
    size_t tail_len = 0, alg_len;
    len = 0;
    W(mbedtls_asn1_write_bitstring(&q, tail, sig, sig_len * 8));
    tail_len = len;
    rc = write_sig_alg(&q, tail, mbedtls_pk_get_type(key->pub) == MBEDTLS_PK_RSA ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECKEY, md, &alg_len);
    if (rc != FPEST_OK) return rc;
    tail_len += alg_len;
    size_t body = info_len + tail_len;
    size_t hdr = 1 + (body < 128 ? 1 : body < 256 ? 2 : body < 65536 ? 3 : 4);
    if (hdr + body > out_size) return FPEST_ERR_BUFFER;
    memmove(out + hdr, info, info_len);
    memcpy(out + hdr + info_len, q, tail_len);
    unsigned char *h = out + hdr;
    len = 0;
    W(mbedtls_asn1_write_len(&h, out, body));
    W(mbedtls_asn1_write_tag(&h, out, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    if (h != out) return FPEST_ERR_CRYPTO; /* the header size was computed wrong: never happens */
    *out_len = hdr + body;
    return FPEST_OK;
}
