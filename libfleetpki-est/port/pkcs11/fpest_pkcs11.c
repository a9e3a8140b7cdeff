#include "fpest_pkcs11.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "mbedtls/rsa.h"

#define F(p) ((CK_FUNCTION_LIST_PTR) (p)->fn)

static const unsigned char P256_OID[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char P384_OID[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

static int failed(fpest_p11 *p, const char *what, CK_RV rv) {
    snprintf(p->error, sizeof p->error, "PKCS#11 %s failed: CKR 0x%lx", what, (unsigned long) rv);
    return FPEST_ERR_KEY;
}

int fpest_p11_open(fpest_p11 *p, const char *module, const char *token, const char *pin) {
    memset(p, 0, sizeof *p);
    p->lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (p->lib == NULL) { snprintf(p->error, sizeof p->error, "cannot load the PKCS#11 module %s", module); return FPEST_ERR_KEY; }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList) dlsym(p->lib, "C_GetFunctionList");
    CK_FUNCTION_LIST_PTR fn = NULL;
    CK_RV rv;
    if (get == NULL || get(&fn) != CKR_OK) { snprintf(p->error, sizeof p->error, "%s is not a PKCS#11 module", module); return FPEST_ERR_KEY; }
    p->fn = fn;
    if ((rv = fn->C_Initialize(NULL)) != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return failed(p, "C_Initialize", rv);
    CK_SLOT_ID slots[32];
    CK_ULONG n = 32;
    if ((rv = fn->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) return failed(p, "C_GetSlotList", rv);
    size_t tl = strlen(token);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        if (fn->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
        size_t l = sizeof info.label; /* blank padded */
        while (l > 0 && info.label[l - 1] == ' ') l--;
        if (l != tl || memcmp(info.label, token, tl) != 0) continue;
        CK_SESSION_HANDLE s;
        if ((rv = fn->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) != CKR_OK) return failed(p, "C_OpenSession", rv);
        p->session = s;
        rv = fn->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) return failed(p, "C_Login (check the PIN)", rv);
        return FPEST_OK;
    }
    snprintf(p->error, sizeof p->error, "no PKCS#11 token labelled '%s' in %s", token, module);
    return FPEST_ERR_KEY;
}

static int find(fpest_p11 *p, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out) {
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *) label, strlen(label)}};
    CK_ULONG n = 0;
    CK_RV rv = F(p)->C_FindObjectsInit(p->session, t, 2);
    if (rv != CKR_OK) return failed(p, "C_FindObjectsInit", rv);
    rv = F(p)->C_FindObjects(p->session, out, 1, &n);
    F(p)->C_FindObjectsFinal(p->session);
    if (rv != CKR_OK) return failed(p, "C_FindObjects", rv);
    if (n != 1) { snprintf(p->error, sizeof p->error, "no %s key labelled '%s' on the token", cls == CKO_PRIVATE_KEY ? "private" : "public", label); return FPEST_ERR_KEY; }
    return FPEST_OK;
}

int fpest_p11_generate(fpest_p11 *p, const char *label) {
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1}, {CKA_EC_PARAMS, (void *) P256_OID, sizeof P256_OID},
                          {CKA_LABEL, (void *) label, strlen(label)}};
    CK_ATTRIBUTE prv[] = {{CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1}, {CKA_SIGN, &yes, 1}, {CKA_SENSITIVE, &yes, 1},
                          {CKA_EXTRACTABLE, &no, 1}, {CKA_LABEL, (void *) label, strlen(label)}};
    CK_OBJECT_HANDLE hpub, hprv;
    CK_RV rv = F(p)->C_GenerateKeyPair(p->session, &mech, pub, 4, prv, 6, &hpub, &hprv);
    return rv == CKR_OK ? FPEST_OK : failed(p, "C_GenerateKeyPair", rv);
}

int fpest_p11_destroy(fpest_p11 *p, const char *label) {
    CK_OBJECT_HANDLE h;
    int rc = FPEST_OK;
    if (find(p, CKO_PRIVATE_KEY, label, &h) == FPEST_OK && F(p)->C_DestroyObject(p->session, h) != CKR_OK) rc = FPEST_ERR_KEY;
    if (find(p, CKO_PUBLIC_KEY, label, &h) == FPEST_OK && F(p)->C_DestroyObject(p->session, h) != CKR_OK) rc = FPEST_ERR_KEY;
    return rc;
}

/* The sign callback: C_Sign with CKM_ECDSA gives raw r||s; Mbed TLS and X.509 want DER. */
static int p11_sign(void *ctx, mbedtls_md_type_t md, const unsigned char *hash, size_t hash_len, unsigned char *sig, size_t sig_size,
                    size_t *sig_len) {
    fpest_p11 *p = (fpest_p11 *) ctx;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    unsigned char raw[132];
    CK_ULONG raw_len = sizeof raw;
    (void) md;
    CK_RV rv = F(p)->C_SignInit(p->session, &mech, p->key);
    if (rv == CKR_OK) rv = F(p)->C_Sign(p->session, (CK_BYTE_PTR) hash, hash_len, raw, &raw_len);
    if (rv != CKR_OK) return failed(p, "C_Sign", rv);
    return fpest_ecdsa_raw_to_der(raw, raw_len, sig, sig_size, sig_len);
}

/* CKM_RSA_PKCS signs a DigestInfo: the hash behind its algorithm's DER prefix (RFC 8017 9.2 note 1). */
static int p11_sign_rsa(void *ctx, mbedtls_md_type_t md, const unsigned char *hash, size_t hash_len, unsigned char *sig, size_t sig_size,
                        size_t *sig_len) {
    static const unsigned char sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    static const unsigned char sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
    static const unsigned char sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
    fpest_p11 *p = (fpest_p11 *) ctx;
    const unsigned char *prefix = md == MBEDTLS_MD_SHA256 ? sha256 : md == MBEDTLS_MD_SHA384 ? sha384 : md == MBEDTLS_MD_SHA512 ? sha512 : NULL;
    if (prefix == NULL || hash_len != prefix[sizeof sha256 - 1]) { snprintf(p->error, sizeof p->error, "RSA: unsupported hash"); return FPEST_ERR_KEY; }
    unsigned char info[sizeof sha512 + 64];
    memcpy(info, prefix, sizeof sha256);
    memcpy(info + sizeof sha256, hash, hash_len);
    CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
    CK_ULONG n = sig_size;
    CK_RV rv = F(p)->C_SignInit(p->session, &mech, p->key);
    if (rv == CKR_OK) rv = F(p)->C_Sign(p->session, info, sizeof sha256 + hash_len, sig, &n);
    if (rv != CKR_OK) return failed(p, "C_Sign", rv);
    *sig_len = n;
    return 0;
}

/* The RSA public key object as SubjectPublicKeyInfo DER (written at the end of buf). */
static int rsa_spki(fpest_p11 *p, CK_OBJECT_HANDLE pub, unsigned char *buf, size_t size, size_t *len) {
    unsigned char n[1024], e[16];
    CK_ATTRIBUTE t[] = {{CKA_MODULUS, n, sizeof n}, {CKA_PUBLIC_EXPONENT, e, sizeof e}};
    CK_RV rv = F(p)->C_GetAttributeValue(p->session, pub, t, 2);
    if (rv != CKR_OK) return failed(p, "C_GetAttributeValue(MODULUS, PUBLIC_EXPONENT)", rv);
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
    if (ret == 0) ret = mbedtls_rsa_import_raw(mbedtls_pk_rsa(pk), n, t[0].ulValueLen, NULL, 0, NULL, 0, NULL, 0, e, t[1].ulValueLen);
    if (ret == 0) ret = mbedtls_rsa_complete(mbedtls_pk_rsa(pk));
    int w = ret == 0 ? mbedtls_pk_write_pubkey_der(&pk, buf, size) : -1;
    mbedtls_pk_free(&pk);
    if (w <= 0) { snprintf(p->error, sizeof p->error, "the RSA public key on the token does not read"); return FPEST_ERR_KEY; }
    *len = (size_t) w;
    return FPEST_OK;
}

int fpest_p11_key(fpest_p11 *p, const char *label, fpest_key *key) {
    CK_OBJECT_HANDLE pub;
    int rc = find(p, CKO_PRIVATE_KEY, label, (CK_OBJECT_HANDLE *) &p->key);
    if (rc == FPEST_OK) rc = find(p, CKO_PUBLIC_KEY, label, &pub);
    if (rc != FPEST_OK) return rc;
    CK_KEY_TYPE type;
    CK_ATTRIBUTE kt = {CKA_KEY_TYPE, &type, sizeof type};
    CK_RV rv = F(p)->C_GetAttributeValue(p->session, pub, &kt, 1);
    if (rv != CKR_OK) return failed(p, "C_GetAttributeValue(KEY_TYPE)", rv);
    if (type == CKK_RSA) {
        unsigned char der[1200];
        size_t len;
        if ((rc = rsa_spki(p, pub, der, sizeof der, &len)) != FPEST_OK) return rc;
        return fpest_key_opaque_rsa(key, der + sizeof der - len, len, p11_sign_rsa, p);
    }
    unsigned char params[16], point[140];
    CK_ATTRIBUTE t[] = {{CKA_EC_PARAMS, params, sizeof params}, {CKA_EC_POINT, point, sizeof point}};
    rv = F(p)->C_GetAttributeValue(p->session, pub, t, 2);
    if (rv != CKR_OK) return failed(p, "C_GetAttributeValue(EC_PARAMS, EC_POINT)", rv);
    mbedtls_ecp_group_id grp = t[0].ulValueLen == sizeof P256_OID && memcmp(params, P256_OID, sizeof P256_OID) == 0 ? MBEDTLS_ECP_DP_SECP256R1
                             : t[0].ulValueLen == sizeof P384_OID && memcmp(params, P384_OID, sizeof P384_OID) == 0 ? MBEDTLS_ECP_DP_SECP384R1
                             : MBEDTLS_ECP_DP_NONE;
    if (grp == MBEDTLS_ECP_DP_NONE) { snprintf(p->error, sizeof p->error, "key '%s' is not on P-256 or P-384", label); return FPEST_ERR_KEY; }
    /* CKA_EC_POINT is the point wrapped in a DER OCTET STRING (short form length for P-256/P-384) */
    const unsigned char *q = point;
    size_t ql = t[1].ulValueLen;
    if (ql > 2 && q[0] == 0x04 && q[1] == ql - 2) { q += 2; ql -= 2; }
    else if (ql > 3 && q[0] == 0x04 && q[1] == 0x81 && q[2] == ql - 3) { q += 3; ql -= 3; }
    return fpest_key_opaque_ec(key, grp, q, ql, p11_sign, p);
}

void fpest_p11_close(fpest_p11 *p) {
    if (p->fn != NULL && p->session) {
        F(p)->C_Logout(p->session);
        F(p)->C_CloseSession(p->session);
    }
    /* C_Finalize is left to the process: other contexts may share the module */
    p->session = 0;
}

void fpest_p11_finalize(fpest_p11 *p) {
    if (p->fn != NULL) F(p)->C_Finalize(NULL);
    if (p->lib != NULL) dlclose(p->lib);
    p->fn = NULL;
    p->lib = NULL;
}
