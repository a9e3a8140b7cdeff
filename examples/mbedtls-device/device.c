/*
 * fleetpki device example in C with Mbed TLS (Debian libmbedtls-dev, 2.28 API): the device's half
 * of enrollment as the fleet's firmware engineers asked for it.
 *
 *   mbedtls-device keygen KEY.pem                         make an EC P-256 key on the device
 *   mbedtls-device csr KEY.pem DEVICE_ID CSR.der          a PKCS#10 request, CN = the device id, signed by the key
 *   mbedtls-device verify CHAIN.pem ROOT.pem DEVICE_ID KEY.pem
 *                                                         after enrollment: the returned chain verifies to the
 *                                                         pinned root, names this device, certifies this key
 *
 * On a device with a secure element the key never exists as bytes: keygen happens in the element
 * and the CSR is signed through the PSA opaque-key API (see docs/devices.md); the file key here
 * keeps the example runnable on any machine.
 */
#include <stdio.h>
#include <string.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ecp.h"
#include "mbedtls/entropy.h"
#include "mbedtls/error.h"
#include "mbedtls/pk.h"
#include "mbedtls/x509_crt.h"
#include "mbedtls/x509_csr.h"

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;

static int fail(const char *what, int ret) {
    char buf[200];
    mbedtls_strerror(ret, buf, sizeof buf);
    fprintf(stderr, "mbedtls-device: %s failed: %s (-0x%04x)\n", what, buf, (unsigned) -ret);
    return 1;
}

static int seed(void) {
    static const char pers[] = "fleetpki-mbedtls-device";
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    return mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *) pers, sizeof pers - 1);
}

static int keygen(const char *path) {
    mbedtls_pk_context key;
    unsigned char pem[1024];
    int ret;
    mbedtls_pk_init(&key);
    if ((ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0) return fail("pk setup", ret);
    if ((ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg)) != 0)
        return fail("P-256 key generation", ret);
    if ((ret = mbedtls_pk_write_key_pem(&key, pem, sizeof pem)) != 0) return fail("writing the key", ret);
    FILE *f = fopen(path, "w");
    if (f == NULL) { perror(path); return 1; }
    fputs((const char *) pem, f);
    fclose(f);
    mbedtls_pk_free(&key);
    printf("P-256 key made: %s\n", path);
    return 0;
}

static int csr(const char *keyPath, const char *id, const char *out) {
    mbedtls_pk_context key;
    mbedtls_x509write_csr req;
    unsigned char der[4096];
    char subject[300];
    int ret, len;
    mbedtls_pk_init(&key);
    mbedtls_x509write_csr_init(&req);
    if ((ret = mbedtls_pk_parse_keyfile(&key, keyPath, NULL)) != 0) return fail("reading the key", ret);
    if (snprintf(subject, sizeof subject, "CN=%s", id) >= (int) sizeof subject) { fprintf(stderr, "mbedtls-device: device id too long\n"); return 1; }
    mbedtls_x509write_csr_set_md_alg(&req, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&req, &key);
    if ((ret = mbedtls_x509write_csr_set_subject_name(&req, subject)) != 0) return fail("setting the subject", ret);
    len = mbedtls_x509write_csr_der(&req, der, sizeof der, mbedtls_ctr_drbg_random, &drbg);
    if (len < 0) return fail("signing the CSR", len);
    FILE *f = fopen(out, "wb");
    if (f == NULL) { perror(out); return 1; }
    fwrite(der + sizeof der - len, 1, (size_t) len, f); /* mbedtls writes DER at the end of the buffer */
    fclose(f);
    mbedtls_x509write_csr_free(&req);
    mbedtls_pk_free(&key);
    printf("CSR for %s written: %s (%d bytes, signed by the device key)\n", subject, out, len);
    return 0;
}

static int verify(const char *chainPath, const char *rootPath, const char *id, const char *keyPath) {
    mbedtls_x509_crt chain, root;
    mbedtls_pk_context key;
    uint32_t flags = 0;
    char info[1024];
    int ret;
    mbedtls_x509_crt_init(&chain);
    mbedtls_x509_crt_init(&root);
    mbedtls_pk_init(&key);
    if ((ret = mbedtls_x509_crt_parse_file(&chain, chainPath)) != 0) return fail("reading the chain (leaf first)", ret);
    if ((ret = mbedtls_x509_crt_parse_file(&root, rootPath)) != 0) return fail("reading the pinned root", ret);
    if ((ret = mbedtls_pk_parse_keyfile(&key, keyPath, NULL)) != 0) return fail("reading the key", ret);
    /* chain to the pinned root, valid now, and the leaf names this device (expected CN) */
    ret = mbedtls_x509_crt_verify(&chain, &root, NULL, id, &flags, NULL, NULL);
    if (ret != 0) {
        mbedtls_x509_crt_verify_info(info, sizeof info, "  ", flags);
        fprintf(stderr, "mbedtls-device: the certificate does not verify for %s:\n%s", id, info);
        return 2;
    }
    /* the certificate is for this device's own key */
    if ((ret = mbedtls_pk_check_pair(&chain.pk, &key)) != 0) {
        fprintf(stderr, "mbedtls-device: the certificate certifies another key, not this device's\n");
        return 2;
    }
    mbedtls_x509_dn_gets(info, sizeof info, &chain.subject);
    printf("verified: %s, chain to the pinned root OK, certifies this device's key\n", info);
    mbedtls_x509_crt_free(&chain);
    mbedtls_x509_crt_free(&root);
    mbedtls_pk_free(&key);
    return 0;
}

int main(int argc, char **argv) {
    int ret;
    if ((ret = seed()) != 0) return fail("seeding the DRBG", ret);
    if (argc == 3 && strcmp(argv[1], "keygen") == 0) return keygen(argv[2]);
    if (argc == 5 && strcmp(argv[1], "csr") == 0) return csr(argv[2], argv[3], argv[4]);
    if (argc == 6 && strcmp(argv[1], "verify") == 0) return verify(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: mbedtls-device keygen KEY.pem\n"
                    "       mbedtls-device csr KEY.pem DEVICE_ID CSR.der\n"
                    "       mbedtls-device verify CHAIN.pem ROOT.pem DEVICE_ID KEY.pem\n");
    return 64;
}
