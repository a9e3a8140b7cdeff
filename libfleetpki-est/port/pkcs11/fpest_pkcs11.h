/*
 * A thin PKCS#11 adapter for the opaque-key path: a token key (a secure element on a device; SoftHSM2
 * in the tests) becomes an fpest_key whose sign callback is C_Sign(CKM_ECDSA). The private key
 * stays on the token (made there sensitive and never extractable); only its public point is read.
 */
#ifndef FPEST_PKCS11_H
#define FPEST_PKCS11_H

#include "fleetpki_est.h"

typedef struct fpest_p11 {
    void *lib;
    void *fn;                  /* CK_FUNCTION_LIST_PTR */
    unsigned long session;     /* CK_SESSION_HANDLE */
    unsigned long key;         /* the private key object */
    char error[160];           /* what failed, for the caller's message */
} fpest_p11;

/* Load module, log in to the token labelled token with pin. */
int fpest_p11_open(fpest_p11 *p, const char *module, const char *token, const char *pin);
/* Make an EC P-256 key pair on the token under label (private: sensitive, never extractable). */
int fpest_p11_generate(fpest_p11 *p, const char *label);
/* The key pair labelled label as an opaque fpest_key (one p11 context per key in use). */
int fpest_p11_key(fpest_p11 *p, const char *label, fpest_key *key);
/* Destroy the key pair labelled label (after a rekey). */
int fpest_p11_destroy(fpest_p11 *p, const char *label);
void fpest_p11_close(fpest_p11 *p);
/* C_Finalize and unload the module: once, after every context on it is closed. */
void fpest_p11_finalize(fpest_p11 *p);

#endif
