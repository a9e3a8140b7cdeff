/*
 * Renewal: when (a share of the lifetime, spread per device), how (simplereenroll with the current
 * certificate and a new key; the bootstrap credential once it has expired), and in what order the
 * caller's storage is written so that a reboot at any point leaves a usable certificate.
 */
#include <string.h>

#include "fleetpki_est.h"
#include "fpest_compat.h"
#include "fpest_internal.h"
#include "mbedtls/x509_csr.h"

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static int64_t epoch(const mbedtls_x509_time *t) {
    return days_from_civil(t->year, (unsigned) t->mon, (unsigned) t->day) * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

int fpest_validity(const mbedtls_x509_crt *crt, int64_t *not_before, int64_t *not_after) {
    if (crt == NULL || not_before == NULL || not_after == NULL || crt->raw.len == 0) return FPEST_ERR_ARG;
    *not_before = epoch(&crt->valid_from);
    *not_after = epoch(&crt->valid_to);
    return *not_after > *not_before ? FPEST_OK : FPEST_ERR_ARG;
}

int64_t fpest_renew_at(int64_t not_before, int64_t not_after, const char *device_id, const fpest_renew_policy *policy) {
    unsigned fraction = policy && policy->fraction_pct ? policy->fraction_pct : 67;
    unsigned jitter = policy && policy->jitter_pct ? policy->jitter_pct : 10;
    if (fraction > 95) fraction = 95;
    if (fraction + jitter > 98) jitter = 98 - fraction;
    int64_t life = not_after - not_before;
    if (life <= 0) return not_before;
    /* FNV-1a of the id: the same spot in the window at every boot, different devices spread out */
    uint32_t h = 2166136261u;
    for (const char *p = device_id ? device_id : ""; *p; p++) h = (h ^ (unsigned char) *p) * 16777619u;
    int64_t window = life * jitter / 100;
    return not_before + life * fraction / 100 + (window > 0 ? (int64_t) (h % (uint64_t) window) : 0);
}

/* The stored CSR certifies key (its public key is the key's). */
static int csr_for(const unsigned char *der, size_t len, fpest_key *key) {
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    int same = mbedtls_x509_csr_parse_der(&csr, der, len) == 0 && fpest_same_key(&csr.pk, key->pub);
    mbedtls_x509_csr_free(&csr);
    return same;
}

static int store(fpest_renewal *r, const char *name, const unsigned char *buf, size_t len) {
    return r->storage.write(r->storage.ctx, name, buf, len) == 0 ? FPEST_OK : FPEST_ERR_STORAGE;
}

/* "cert" := the checked certificate; then the in-flight blobs go. The old "cert" stays until this write. */
static int install(fpest_renewal *r, const mbedtls_x509_crt *crt) {
    int rc = store(r, FPEST_BLOB_CERT_NEW, crt->raw.p, crt->raw.len);
    if (rc == FPEST_OK) rc = store(r, FPEST_BLOB_CERT, crt->raw.p, crt->raw.len);
    if (rc == FPEST_OK) rc = store(r, FPEST_BLOB_CERT_NEW, NULL, 0);
    if (rc == FPEST_OK) rc = store(r, FPEST_BLOB_CSR_NEW, NULL, 0);
    return rc == FPEST_OK ? FPEST_RENEWED : rc;
}

/* Read blob name into buf: FPEST_OK, 1 (absent) or FPEST_ERR_STORAGE. */
static int load(fpest_renewal *r, const char *name, unsigned char *buf, size_t size, size_t *len) {
    int rc = r->storage.read(r->storage.ctx, name, buf, size, len);
    return rc == 0 ? (*len > 0 ? FPEST_OK : 1) : rc == 1 ? 1 : FPEST_ERR_STORAGE;
}

int fpest_renew_step(fpest_client *c, fpest_renewal *r, int64_t *next) {
    if (c == NULL || r == NULL || r->device_id == NULL || r->current_key == NULL || r->storage.read == NULL || r->storage.write == NULL
        || r->work == NULL || r->work_len < 1024) {
        return FPEST_ERR_ARG;
    }
    if (next) *next = -1;
    fpest_key *key = r->next_key ? r->next_key : r->current_key; /* the key the new certificate is for */
    size_t half = r->work_len / 2, len = 0, csr_len = 0;
    unsigned char *csr = r->work, *blob = r->work + half;
    mbedtls_x509_crt cur, got;
    mbedtls_x509_crt_init(&cur);
    mbedtls_x509_crt_init(&got);
    int rc;
    /* without the time nothing can be decided: not whether a certificate is due, not even whether an
     * answer is valid (its chain is checked against the clock); the caller sets the clock (SNTP) first */
    int64_t now = c->cfg.io->now ? c->cfg.io->now(c->cfg.io->ctx) : -1, nb, na;
    if (now < 0) return FPEST_RENEW_NOT_DUE;

    /* a certificate received and checked before a reboot, not yet in "cert": finish installing it */
    if ((rc = load(r, FPEST_BLOB_CERT_NEW, blob, half, &len)) == FPEST_OK) {
        if (mbedtls_x509_crt_parse_der(&got, blob, len) == 0 && fpest_check_issued(c, &got, r->device_id, key) == FPEST_OK) {
            rc = install(r, &got);
            goto out;
        }
        if ((rc = store(r, FPEST_BLOB_CERT_NEW, NULL, 0)) != FPEST_OK) goto out;
        mbedtls_x509_crt_free(&got);
        mbedtls_x509_crt_init(&got);
    } else if (rc != 1) {
        goto out;
    }

    int bootstrap = 0;
    rc = load(r, FPEST_BLOB_CERT, blob, half, &len);
    if (rc == 1) {
        bootstrap = 1; /* first boot: no certificate yet */
    } else if (rc != FPEST_OK) {
        goto out;
    } else if (mbedtls_x509_crt_parse_der(&cur, blob, len) != 0 || fpest_validity(&cur, &nb, &na) != FPEST_OK) {
        bootstrap = 1; /* unreadable: as good as none */
    } else if (now >= na) {
        bootstrap = 1; /* expired: a certificate that cannot authenticate anything, fall back */
    } else {
        int64_t at = fpest_renew_at(nb, na, r->device_id, &r->policy);
        if (now < at) {
            if (next) *next = at;
            rc = FPEST_RENEW_NOT_DUE;
            goto out;
        }
    }
    if (bootstrap && r->bootstrap_secret == NULL && (r->bootstrap_cert == NULL || r->bootstrap_key == NULL)) {
        rc = FPEST_ERR_NO_CREDENTIAL;
        goto out;
    }

    /* the CSR: the one sent before if a request is in flight (202, or a reboot), else a new one, stored before it is sent */
    rc = load(r, FPEST_BLOB_CSR_NEW, csr, half, &csr_len);
    if (rc == FPEST_OK && !csr_for(csr, csr_len, key)) rc = 1; /* stored for a key the caller no longer offers: a new one */
    if (rc == 1) {
        if ((rc = fpest_make_csr(c, key, r->device_id, r->md == MBEDTLS_MD_NONE ? MBEDTLS_MD_SHA256 : r->md, csr, half, &csr_len)) != FPEST_OK) goto out;
        if ((rc = store(r, FPEST_BLOB_CSR_NEW, csr, csr_len)) != FPEST_OK) goto out;
    } else if (rc != FPEST_OK) {
        goto out;
    }
    fpest_enroll_req req = {r->device_id, key, csr, csr_len, NULL, NULL, NULL, 0};
    if (bootstrap) {
        req.secret = r->bootstrap_secret;
        req.client_cert = r->bootstrap_secret ? NULL : r->bootstrap_cert;
        req.client_key = r->bootstrap_secret ? NULL : r->bootstrap_key;
    } else {
        req.client_cert = &cur;
        req.client_key = r->current_key;
        req.reenroll = 1;
    }
    rc = fpest_enroll(c, &req, &got);
    if (rc == FPEST_ERR_HTTP_STATUS && c->http_status >= 400 && c->http_status < 500 && c->http_status != 408 && c->http_status != 429) {
        store(r, FPEST_BLOB_CSR_NEW, NULL, 0); /* refused for good: sending it again cannot help; the next step makes a new one */
    }
    if (rc == FPEST_OK) rc = install(r, &got);
    if (rc == FPEST_PENDING && next) *next = now + (int64_t) c->retry_after;
out:
    mbedtls_x509_crt_free(&cur);
    mbedtls_x509_crt_free(&got);
    return rc;
}
