/*
 * The differences between Mbed TLS 2.28 (Debian 12, tested here) and 3.x (ESP-IDF 5, Zephyr 3+)
 * that this library meets, in one place.
 */
#ifndef FPEST_COMPAT_H
#define FPEST_COMPAT_H

#include "mbedtls/version.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include "mbedtls/build_info.h"
#define FPEST_MBEDTLS3 1
/* 3.x: the signature buffer size is a parameter */
#define FPEST_PK_SIGN(pk, md, h, hl, sig, size, len, rng, prng) mbedtls_pk_sign(pk, md, h, hl, sig, size, len, rng, prng)
/* 3.x: check_pair takes an RNG (for blinding) */
#define FPEST_PK_CHECK_PAIR(pub, prv, rng, prng) mbedtls_pk_check_pair(pub, prv, rng, prng)
/* 3.x: struct members are private; these few are read through MBEDTLS_PRIVATE */
#define FPEST_PRIV(m) MBEDTLS_PRIVATE(m)
#else
#include "mbedtls/config.h"
#define FPEST_PK_SIGN(pk, md, h, hl, sig, size, len, rng, prng) ((void) (size), mbedtls_pk_sign(pk, md, h, hl, sig, len, rng, prng))
#define FPEST_PK_CHECK_PAIR(pub, prv, rng, prng) ((void) (rng), (void) (prng), mbedtls_pk_check_pair(pub, prv))
#define FPEST_PRIV(m) m
/* 2.x: an opaque EC key is an Mbed TLS pk whose sign function calls the callback (pk_internal.h) */
#define FPEST_OPAQUE_TLS 1
#endif

#if !defined(MBEDTLS_X509_CRT_PARSE_C) || !defined(MBEDTLS_SSL_CLI_C) || !defined(MBEDTLS_CTR_DRBG_C) \
    || !defined(MBEDTLS_ASN1_WRITE_C) || !defined(MBEDTLS_BASE64_C)
#error "libfleetpki-est needs MBEDTLS_X509_CRT_PARSE_C, MBEDTLS_SSL_CLI_C, MBEDTLS_CTR_DRBG_C, MBEDTLS_ASN1_WRITE_C and MBEDTLS_BASE64_C"
#endif

#endif
