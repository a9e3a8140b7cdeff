/* libFuzzer: the certs-only PKCS#7 reader and csrattrs on any bytes (scripts/fuzz-c runs it). */
#include <stdlib.h>
#include <string.h>

#include "fleetpki_est.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    unsigned char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    fpest_pkcs7_certs(buf, size, &chain);
    mbedtls_x509_crt_free(&chain);
    fpest_key_choice a;
    fpest_parse_csrattrs(buf, size, &a);
    free(buf);
    return 0;
}
