/*
 * fleetpki firmware verification in C with Mbed TLS (Debian libmbedtls-dev; the 2.28 and 3.x APIs):
 * what a bootloader or update agent checks before it installs an image signed by fleetpki in the
 * raw format (fleetpki firmware sign --format raw, docs/firmware.md).
 *
 *   mbedtls-firmware verify IMAGE SIGNATURE.fwsig ROOT.pem MODEL INSTALLED_VERSION [INSTALLED_COUNTER]
 *
 * The signature file: "FPKIFW1\0", then big-endian 32-bit length + bytes for the JSON manifest, the
 * ECDSA signature (DER) over SHA-256 of the manifest (SHA-384 for a P-384 signer, whose manifest then
 * names the image by SHA-384 too), and the signer's certificate followed by
 * the CAs above it (not the root, which the device pins). Checked, in order: the signer's chain to the
 * pinned root (Mbed TLS path validation at the device's current time), the codeSigning extended key
 * usage, the signature over the manifest, the image's SHA-256 and size, the model, a version newer
 * than the installed one and a security counter not below it. Exit 0 and "verified: ..." or exit 2
 * and "refused: <why>"; the image is never touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/md.h"
#include "mbedtls/oid.h"
#include "mbedtls/pk.h"
#include "mbedtls/x509_crt.h"

#define MAX_SIG_FILE (64 * 1024)

static int refuse(const char *why) {
    printf("refused: %s\n", why);
    return 2;
}

static long read_file(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -1;
    size_t n = fread(buf, 1, cap, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    return more ? -2 : (long) n;
}

/* The next length-prefixed field; 0 when it is cut off or claims more than is left. */
static int field(const unsigned char *buf, size_t len, size_t *at, const unsigned char **out, size_t *out_len) {
    if (len - *at < 4) return 0;
    size_t n = ((size_t) buf[*at] << 24) | ((size_t) buf[*at + 1] << 16) | ((size_t) buf[*at + 2] << 8) | buf[*at + 3];
    *at += 4;
    if (n > len - *at) return 0;
    *out = buf + *at;
    *out_len = n;
    *at += n;
    return 1;
}

/* The string value of "key" in the manifest (fleetpki writes no escapes in these values). */
static int json_string(const char *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) return 0;
    p += strlen(pattern);
    const char *end = strchr(p, '"');
    if (end == NULL || (size_t) (end - p) >= cap) return 0;
    memcpy(out, p, (size_t) (end - p));
    out[end - p] = '\0';
    return 1;
}

static int json_number(const char *json, const char *key, unsigned long long *out) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) return 0;
    char *end;
    *out = strtoull(p + strlen(pattern), &end, 10);
    return end != p + strlen(pattern);
}

/* major.minor.revision(+build) -> comparable parts; 0 when it is not a version. */
static int version(const char *text, unsigned long v[4]) {
    v[2] = v[3] = 0;
    int n = sscanf(text, "%lu.%lu.%lu+%lu", &v[0], &v[1], &v[2], &v[3]);
    return n >= 2;
}

static int compare(const unsigned long a[4], const unsigned long b[4]) {
    for (int i = 0; i < 4; i++) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

static int verify(const char *image_path, const char *sig_path, const char *root_path, const char *model, const char *installed,
                  unsigned long long installed_counter) {
    static unsigned char sig_file[MAX_SIG_FILE];
    long len = read_file(sig_path, sig_file, sizeof sig_file);
    if (len < 0) return refuse("cannot read the signature file (missing, or larger than 64 KB)");
    if (len < 8 || memcmp(sig_file, "FPKIFW1\0", 8) != 0) return refuse("the signature file is not fleetpki's raw format");
    size_t at = 8;
    const unsigned char *manifest, *sig, *der;
    size_t manifest_len, sig_len, der_len;
    if (!field(sig_file, (size_t) len, &at, &manifest, &manifest_len) || !field(sig_file, (size_t) len, &at, &sig, &sig_len))
        return refuse("the signature file is truncated or a length field was changed");

    mbedtls_x509_crt chain, root;
    mbedtls_x509_crt_init(&chain);
    mbedtls_x509_crt_init(&root);
    int certs = 0;
    while (at < (size_t) len) {
        if (!field(sig_file, (size_t) len, &at, &der, &der_len)) return refuse("a certificate in the signature file is cut off");
        if (mbedtls_x509_crt_parse_der(&chain, der, der_len) != 0) return refuse("a certificate in the signature file does not parse");
        certs++;
    }
    if (certs == 0) return refuse("the signature file carries no signer certificate");
    if (mbedtls_x509_crt_parse_file(&root, root_path) != 0) return refuse("cannot read the pinned root certificate");

    uint32_t flags = 0;
    if (mbedtls_x509_crt_verify(&chain, &root, NULL, NULL, &flags, NULL, NULL) != 0) {
        char info[256];
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        info[strcspn(info, "\n")] = '\0';
        char why[320];
        snprintf(why, sizeof why, "the signer does not chain to the pinned root (%s)", info);
        return refuse(why);
    }
    if (mbedtls_x509_crt_check_extended_key_usage(&chain, MBEDTLS_OID_CODE_SIGNING, MBEDTLS_OID_SIZE(MBEDTLS_OID_CODE_SIGNING)) != 0)
        return refuse("the signer's certificate is not for code signing");

    /* a P-384 signer signs with SHA-384 and names the image by SHA-384; a P-256 one uses SHA-256 */
    int p384 = mbedtls_pk_get_bitlen(&chain.pk) > 256;
    mbedtls_md_type_t md_type = p384 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA256;
    const mbedtls_md_info_t *md_info = mbedtls_md_info_from_type(md_type);
    size_t hash_len = mbedtls_md_get_size(md_info);
    unsigned char hash[48];
    if (mbedtls_md(md_info, manifest, manifest_len, hash) != 0) return refuse("cannot hash the manifest");
    if (mbedtls_pk_verify(&chain.pk, md_type, hash, hash_len, sig, sig_len) != 0)
        return refuse("the signature over the manifest does not verify (manifest or signature changed)");

    char json[4096];
    if (manifest_len >= sizeof json) return refuse("the manifest is too long");
    memcpy(json, manifest, manifest_len);
    json[manifest_len] = '\0';
    char want_sha[97], got_model[65], got_version[32];
    unsigned long long size, counter;
    if (!json_string(json, p384 ? "sha384" : "sha256", want_sha, sizeof want_sha) || !json_number(json, "size", &size) || !json_string(json, "model", got_model, sizeof got_model)
        || !json_string(json, "version", got_version, sizeof got_version) || !json_number(json, "securityCounter", &counter))
        return refuse("the manifest lacks a field");

    FILE *img = fopen(image_path, "rb");
    if (img == NULL) return refuse("cannot read the image");
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    mbedtls_md_setup(&md, md_info, 0);
    mbedtls_md_starts(&md);
    static unsigned char buf[64 * 1024];
    unsigned long long total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, img)) > 0) {
        mbedtls_md_update(&md, buf, n);
        total += n;
    }
    fclose(img);
    mbedtls_md_finish(&md, hash);
    mbedtls_md_free(&md);
    char got_sha[97];
    for (size_t i = 0; i < hash_len; i++) snprintf(got_sha + 2 * i, 3, "%02x", hash[i]);
    if (total != size) return refuse("the image's size is not the manifest's (truncated or another image)");
    if (strcmp(got_sha, want_sha) != 0) return refuse("the image's digest is not the manifest's (the image was changed or swapped)");
    if (strcmp(got_model, model) != 0) return refuse("the image is for another model");
    unsigned long v_new[4], v_old[4];
    if (!version(got_version, v_new) || !version(installed, v_old)) return refuse("a version is not major.minor.revision");
    if (compare(v_new, v_old) <= 0) return refuse("the image is not newer than the installed version (downgrade)");
    if (counter < installed_counter) return refuse("the image's security counter is below the installed one (rollback)");

    char subject[256];
    mbedtls_x509_dn_gets(subject, sizeof subject, &chain.subject);
    printf("verified: version %s for %s, signed by %s\n", got_version, got_model, subject);
    mbedtls_x509_crt_free(&chain);
    mbedtls_x509_crt_free(&root);
    return 0;
}

int main(int argc, char **argv) {
    if ((argc == 7 || argc == 8) && strcmp(argv[1], "verify") == 0)
        return verify(argv[2], argv[3], argv[4], argv[5], argv[6], argc == 8 ? strtoull(argv[7], NULL, 10) : 0);
    fprintf(stderr, "usage: mbedtls-firmware verify IMAGE SIGNATURE.fwsig ROOT.pem MODEL INSTALLED_VERSION [INSTALLED_COUNTER]\n");
    return 64;
}
