/* libFuzzer: the HTTP answer parser on any bytes, complete or not (scripts/fuzz-c runs it). */
#include <stdlib.h>
#include <string.h>

#include "fleetpki_est.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size == 0) return 0;
    unsigned char *buf = malloc(size - 1 ? size - 1 : 1);
    memcpy(buf, data + 1, size - 1);
    fpest_http_resp r;
    if (fpest_http_parse(buf, size - 1, data[0] & 1, &r) == FPEST_OK) {
        /* the body lies inside the buffer, and decoding it as base64 stays inside too */
        if (r.body < buf || r.body + r.body_len > buf + size - 1) abort();
        size_t n;
        fpest_base64_inplace((unsigned char *) r.body, r.body_len, &n);
    }
    free(buf);
    return 0;
}
