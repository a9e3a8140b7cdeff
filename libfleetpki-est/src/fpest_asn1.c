/*
 * The two DER structures EST answers with, read without a general CMS library:
 * a certs-only PKCS#7 SignedData (RFC 7030 4.1.3 / 4.2.3) and CsrAttrs (RFC 7030 4.5.2).
 */
#include <string.h>

#include "fleetpki_est.h"
#include "fpest_compat.h"
#include "mbedtls/asn1.h"
#include "mbedtls/oid.h"

#define OID_EQ(oid_buf, len, lit) ((len) == sizeof(lit) - 1 && memcmp(oid_buf, lit, sizeof(lit) - 1) == 0)

static const char OID_SIGNED_DATA[] = "\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"; /* 1.2.840.113549.1.7.2 */
static const char OID_ED25519[] = "\x2b\x65\x70";                               /* 1.3.101.112 */

int fpest_pkcs7_certs(const unsigned char *der, size_t len, mbedtls_x509_crt *chain) {
    if (der == NULL || chain == NULL) return FPEST_ERR_ARG;
    unsigned char *p = (unsigned char *) der, *end = p + len, *seq_end;
    size_t n;
    int certs = 0;
    /* ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content } and nothing after it */
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 || p + n != end) return FPEST_ERR_PKCS7;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OID) != 0 || !OID_EQ(p, n, OID_SIGNED_DATA)) return FPEST_ERR_PKCS7;
    p += n;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0) != 0 || p + n != end) return FPEST_ERR_PKCS7;
    /* SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE, [0] certificates, [1] crls, signerInfos } */
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 || p + n != end) return FPEST_ERR_PKCS7;
    int version;
    if (mbedtls_asn1_get_int(&p, end, &version) != 0 || version < 1 || version > 5) return FPEST_ERR_PKCS7;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET) != 0) return FPEST_ERR_PKCS7;
    p += n;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return FPEST_ERR_PKCS7;
    p += n;
    if (p < end && *p == (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0)) {
        if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0) != 0) return FPEST_ERR_PKCS7;
        seq_end = p + n;
        while (p < seq_end) { /* each Certificate is a SEQUENCE: hand its exact bytes to Mbed TLS */
            unsigned char *start = p;
            if (mbedtls_asn1_get_tag(&p, seq_end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return FPEST_ERR_PKCS7;
            p += n;
            if (mbedtls_x509_crt_parse_der(chain, start, (size_t) (p - start)) != 0) return FPEST_ERR_PKCS7;
            certs++;
        }
    }
    if (p < end && *p == (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1)) { /* CRLs: not used */
        if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1) != 0) return FPEST_ERR_PKCS7;
        p += n;
    }
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET) != 0 || p + n != end) return FPEST_ERR_PKCS7;
    return certs ? FPEST_OK : FPEST_ERR_NO_CERT;
}

static void on_oid(const unsigned char *oid, size_t n, fpest_key_choice *out) {
    if (OID_EQ(oid, n, MBEDTLS_OID_EC_ALG_UNRESTRICTED)) {
        if (out->key_type == MBEDTLS_PK_NONE) { out->key_type = MBEDTLS_PK_ECKEY; out->curve = MBEDTLS_ECP_DP_SECP256R1; }
    } else if (OID_EQ(oid, n, MBEDTLS_OID_PKCS1_RSA)) {
        if (out->key_type == MBEDTLS_PK_NONE) { out->key_type = MBEDTLS_PK_RSA; out->rsa_bits = 2048; }
    } else if (OID_EQ(oid, n, OID_ED25519)) {
        if (out->key_type == MBEDTLS_PK_NONE) out->unsupported = 1;
    } else if (OID_EQ(oid, n, MBEDTLS_OID_ECDSA_SHA256) || OID_EQ(oid, n, MBEDTLS_OID_PKCS1_SHA256)) {
        out->md = MBEDTLS_MD_SHA256;
    } else if (OID_EQ(oid, n, MBEDTLS_OID_ECDSA_SHA384) || OID_EQ(oid, n, MBEDTLS_OID_PKCS1_SHA384)) {
        out->md = MBEDTLS_MD_SHA384;
    } else if (n == 9 && memcmp(oid, "\x60\x86\x48\x01\x65\x03\x04\x03", 8) == 0) {
        if (out->key_type == MBEDTLS_PK_NONE) out->unsupported = 1; /* ML-DSA (2.16.840.1.101.3.4.3.x) */
    }
    /* anything else (challengePassword, extensionRequest ...) names no key choice: skipped */
}

int fpest_parse_csrattrs(const unsigned char *der, size_t len, fpest_key_choice *out) {
    if (der == NULL || out == NULL) return FPEST_ERR_ARG;
    memset(out, 0, sizeof *out);
    out->key_type = MBEDTLS_PK_NONE;
    out->curve = MBEDTLS_ECP_DP_NONE;
    out->md = MBEDTLS_MD_SHA256;
    unsigned char *p = (unsigned char *) der, *end = p + len;
    size_t n;
    if (len == 0) return FPEST_OK; /* an empty answer: no preference */
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 || p + n != end) return FPEST_ERR_CSRATTRS;
    while (p < end) {
        if (*p == MBEDTLS_ASN1_OID) {
            if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OID) != 0) return FPEST_ERR_CSRATTRS;
            on_oid(p, n, out);
            p += n;
            continue;
        }
        /* Attribute ::= SEQUENCE { type OID, values SET OF ANY } */
        if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return FPEST_ERR_CSRATTRS;
        unsigned char *attr_end = p + n, *type;
        size_t type_len;
        if (mbedtls_asn1_get_tag(&p, attr_end, &type_len, MBEDTLS_ASN1_OID) != 0) return FPEST_ERR_CSRATTRS;
        type = p;
        p += type_len;
        if (mbedtls_asn1_get_tag(&p, attr_end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET) != 0 || p + n != attr_end) return FPEST_ERR_CSRATTRS;
        if (OID_EQ(type, type_len, MBEDTLS_OID_EC_ALG_UNRESTRICTED) && out->key_type == MBEDTLS_PK_NONE) {
            mbedtls_asn1_buf curve;
            if (mbedtls_asn1_get_tag(&p, attr_end, &curve.len, MBEDTLS_ASN1_OID) != 0) return FPEST_ERR_CSRATTRS;
            curve.p = p;
            curve.tag = MBEDTLS_ASN1_OID;
            out->key_type = MBEDTLS_PK_ECKEY;
            if (mbedtls_oid_get_ec_grp(&curve, &out->curve) != 0
                || (out->curve != MBEDTLS_ECP_DP_SECP256R1 && out->curve != MBEDTLS_ECP_DP_SECP384R1)) {
                out->unsupported = 1;
            }
        } else if (OID_EQ(type, type_len, MBEDTLS_OID_PKCS1_RSA) && out->key_type == MBEDTLS_PK_NONE) {
            int bits;
            if (mbedtls_asn1_get_int(&p, attr_end, &bits) != 0 || bits < 2048 || bits > 8192) return FPEST_ERR_CSRATTRS;
            out->key_type = MBEDTLS_PK_RSA;
            out->rsa_bits = (unsigned) bits;
        }
        p = attr_end;
    }
    return FPEST_OK;
}
