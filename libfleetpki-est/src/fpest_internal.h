/* What the library's files share and the public header does not show. */
#ifndef FPEST_INTERNAL_H
#define FPEST_INTERNAL_H

#include "mbedtls/pk.h"

/* The two keys have the same public key (compared as SubjectPublicKeyInfo DER); 0 when either cannot be written. */
int fpest_same_key(const mbedtls_pk_context *a, const mbedtls_pk_context *b);

#endif
