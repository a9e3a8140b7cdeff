/*
 * The minimal HTTP/1.1 answer parser: status line, the few headers EST needs, a body delimited by
 * Content-Length or chunked transfer coding (decoded in place). It works on the whole answer read
 * so far and says whether more bytes are needed; nothing is read past the buffer it is given.
 */
#include <string.h>

#include "fleetpki_est.h"

#define MAX_HEADERS 64  /* more header lines than this is not a server EST talks to */

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

static int prefix_ci(const unsigned char *p, size_t len, const char *name) {
    size_t n = strlen(name);
    if (len < n) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != name[i]) return 0;
    return 1;
}

/* The end of the line starting at p (index of '\r' of CRLF, or of a bare '\n'); -1 when none yet. */
static long line_end(const unsigned char *buf, size_t from, size_t len) {
    for (size_t i = from; i < len; i++)
        if (buf[i] == '\n') return (long) (i > from && buf[i - 1] == '\r' ? i - 1 : i);
    return -1;
}

static size_t skip_eol(const unsigned char *buf, size_t at) { return buf[at] == '\r' ? at + 2 : at + 1; }

/* A decimal number of at most 9 digits over [p, end); -1 if anything else. */
static long decimal(const unsigned char *p, const unsigned char *end) {
    long v = 0;
    int digits = 0;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || ++digits > 9) return -1;
        v = v * 10 + (*p - '0');
    }
    return digits ? v : -1;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    ch = lower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/*
 * Walk the chunks starting at buf[at]; with decode, move their data down to buf[at] onward.
 * Returns FPEST_OK with *body_len, or _TRUNCATED / _MALFORMED.
 */
static int chunks(unsigned char *buf, size_t len, size_t at, int decode, size_t *body_len) {
    size_t out = at, total = 0;
    for (;;) {
        long eol = line_end(buf, at, len);
        if (eol < 0) return len - at > 80 ? FPEST_ERR_HTTP_MALFORMED : FPEST_ERR_HTTP_TRUNCATED;
        size_t size = 0;
        int digits = 0;
        size_t i = at;
        for (; i < (size_t) eol && hexval(buf[i]) >= 0; i++) {
            if (++digits > 7) return FPEST_ERR_HTTP_MALFORMED; /* a chunk over 256 MiB: not from an EST server */
            size = size * 16 + (size_t) hexval(buf[i]);
        }
        if (digits == 0 || (i < (size_t) eol && buf[i] != ';' && buf[i] != ' ')) return FPEST_ERR_HTTP_MALFORMED;
        at = skip_eol(buf, (size_t) eol);
        if (size == 0) { /* last chunk: trailers (ignored) up to an empty line */
            for (;;) {
                eol = line_end(buf, at, len);
                if (eol < 0) return FPEST_ERR_HTTP_TRUNCATED;
                if ((size_t) eol == at) break;
                at = skip_eol(buf, (size_t) eol);
            }
            *body_len = total;
            return FPEST_OK;
        }
        if (len - at < size + 1) return FPEST_ERR_HTTP_TRUNCATED;
        if (decode) memmove(buf + out, buf + at, size);
        out += size;
        total += size;
        at += size;
        if (buf[at] == '\r') {
            if (len - at < 2) return FPEST_ERR_HTTP_TRUNCATED;
            if (buf[at + 1] != '\n') return FPEST_ERR_HTTP_MALFORMED;
            at += 2;
        } else if (buf[at] == '\n') {
            at += 1;
        } else {
            return FPEST_ERR_HTTP_MALFORMED; /* chunk data longer than its size line said */
        }
    }
}

int fpest_http_parse(unsigned char *buf, size_t len, int eof, fpest_http_resp *r) {
    if (buf == NULL || r == NULL) return FPEST_ERR_ARG;
    memset(r, 0, sizeof *r);
    long eol = line_end(buf, 0, len);
    if (eol < 0) {
        if (len >= 9 && memcmp(buf, "HTTP/1.", 7) != 0) return FPEST_ERR_HTTP_MALFORMED;
        return len > 8192 ? FPEST_ERR_HTTP_MALFORMED : FPEST_ERR_HTTP_TRUNCATED;
    }
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (eol < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ') return FPEST_ERR_HTTP_MALFORMED;
    for (int i = 9; i < 12; i++)
        if (buf[i] < '0' || buf[i] > '9') return FPEST_ERR_HTTP_MALFORMED;
    if (eol > 12 && buf[12] != ' ') return FPEST_ERR_HTTP_MALFORMED;
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (r->status < 100) return FPEST_ERR_HTTP_MALFORMED;

    long content_length = -1;
    int chunked = 0, headers = 0;
    size_t at = skip_eol(buf, (size_t) eol);
    for (;;) {
        eol = line_end(buf, at, len);
        if (eol < 0) return FPEST_ERR_HTTP_TRUNCATED;
        if ((size_t) eol == at) { at = skip_eol(buf, (size_t) eol); break; } /* end of headers */
        if (++headers > MAX_HEADERS) return FPEST_ERR_HTTP_MALFORMED;
        const unsigned char *h = buf + at, *end = buf + eol;
        const unsigned char *colon = memchr(h, ':', (size_t) (end - h));
        if (colon == NULL || colon == h || h[0] == ' ' || h[0] == '\t') return FPEST_ERR_HTTP_MALFORMED; /* no folded headers */
        size_t name_len = (size_t) (colon - h);
        const unsigned char *v = colon + 1;
        if (name_len == 14 && prefix_ci(h, name_len, "content-length")) {
            long n = decimal(v, end);
            if (n < 0 || (content_length >= 0 && n != content_length)) return FPEST_ERR_HTTP_MALFORMED;
            content_length = n;
        } else if (name_len == 17 && prefix_ci(h, name_len, "transfer-encoding")) {
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            size_t vl = (size_t) (end - v);
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
            if (vl != 7 || !prefix_ci(v, 7, "chunked")) return FPEST_ERR_HTTP_MALFORMED; /* no other coding is acceptable */
            chunked = 1;
        } else if (name_len == 12 && prefix_ci(h, name_len, "content-type")) {
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            size_t n = 0;
            for (; v < end && n + 1 < sizeof r->content_type; v++) r->content_type[n++] = (char) lower(*v);
            while (n > 0 && (r->content_type[n - 1] == ' ' || r->content_type[n - 1] == '\t')) n--;
            r->content_type[n] = 0;
        } else if (name_len == 11 && prefix_ci(h, name_len, "retry-after")) {
            long n = decimal(v, end);
            r->has_retry_after = 1;
            r->retry_after = n < 0 ? 60 : (uint32_t) n; /* an HTTP-date: wait a minute, as with none */
        }
        at = skip_eol(buf, (size_t) eol);
    }
    if (chunked && content_length >= 0) return FPEST_ERR_HTTP_MALFORMED; /* RFC 9112 6.3: a smuggling sign */
    if (r->status == 204 || r->status == 304 || r->status < 200) {
        r->body = buf + at;
        return FPEST_OK;
    }
    if (chunked) {
        size_t body_len;
        int rc = chunks(buf, len, at, 0, &body_len);
        if (rc == FPEST_ERR_HTTP_TRUNCATED && !eof) return rc;
        if (rc != FPEST_OK) return rc;
        chunks(buf, len, at, 1, &body_len);
        r->body = buf + at;
        r->body_len = body_len;
        return FPEST_OK;
    }
    if (content_length >= 0) {
        if (len - at < (size_t) content_length) return FPEST_ERR_HTTP_TRUNCATED;
        r->body = buf + at;
        r->body_len = (size_t) content_length; /* bytes after it are ignored (one request per connection) */
        return FPEST_OK;
    }
    /* neither: the body ends with the connection (HTTP/1.0 style) */
    if (!eof) return FPEST_ERR_HTTP_TRUNCATED;
    r->body = buf + at;
    r->body_len = len - at;
    return FPEST_OK;
}

static int b64val(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

int fpest_base64_inplace(unsigned char *buf, size_t len, size_t *out_len) {
    if (buf == NULL || out_len == NULL) return FPEST_ERR_ARG;
    size_t out = 0, quad = 0, pad = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = buf[i];
        if (ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t') continue;
        if (ch == '=') {
            if (quad < 2 || ++pad > 2) return FPEST_ERR_BASE64;
            acc <<= 6;
            if (++quad == 4) {
                if (pad == 1) { buf[out++] = (unsigned char) (acc >> 16); buf[out++] = (unsigned char) (acc >> 8); }
                else buf[out++] = (unsigned char) (acc >> 16);
                quad = 0;
                acc = 0;
            }
            continue;
        }
        int v = b64val(ch);
        if (v < 0 || pad > 0) return FPEST_ERR_BASE64; /* a stray character, or data after padding */
        acc = acc << 6 | (uint32_t) v;
        if (++quad == 4) { /* out never passes i: 3 bytes out for 4 characters in */
            buf[out++] = (unsigned char) (acc >> 16);
            buf[out++] = (unsigned char) (acc >> 8);
            buf[out++] = (unsigned char) acc;
            quad = 0;
            acc = 0;
        }
    }
    if (quad != 0) return FPEST_ERR_BASE64; /* a partial group (no padding) */
    *out_len = out;
    return FPEST_OK;
}
