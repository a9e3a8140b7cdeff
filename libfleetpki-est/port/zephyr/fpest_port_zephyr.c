/* Zephyr port of libfleetpki-est (documented in docs/c-client.md; not compiled in fleetpki's CI). */
#include "fpest_port_zephyr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zephyr/net/socket.h>
#include <zephyr/random/random.h>
#include <zephyr/settings/settings.h>

#include "mbedtls/net_sockets.h"
#include "mbedtls/ssl.h"

static int z_connect(void *ctx, const char *host, uint16_t port, uint32_t timeout_ms, void **conn) {
    fpest_zephyr *z = (fpest_zephyr *) ctx;
    struct zsock_addrinfo hints = {0}, *res = NULL;
    char service[8];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%u", (unsigned) port);
    if (zsock_getaddrinfo(host, service, &hints, &res) != 0 || res == NULL) return -1;
    int fd = zsock_socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0) { zsock_freeaddrinfo(res); return -1; }
    struct zsock_timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    zsock_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    zsock_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = zsock_connect(fd, res->ai_addr, res->ai_addrlen);
    zsock_freeaddrinfo(res);
    if (rc != 0) { zsock_close(fd); return -1; }
    z->fd = fd;
    *conn = z;
    return 0;
}

static int z_send(void *conn, const unsigned char *buf, size_t len) {
    ssize_t n = zsock_send(((fpest_zephyr *) conn)->fd, buf, len, 0);
    if (n >= 0) return (int) n;
    return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int z_recv(void *conn, unsigned char *buf, size_t len, uint32_t timeout_ms) {
    int fd = ((fpest_zephyr *) conn)->fd;
    struct zsock_pollfd p = {.fd = fd, .events = ZSOCK_POLLIN};
    int s = zsock_poll(&p, 1, timeout_ms ? (int) timeout_ms : -1);
    if (s == 0) return MBEDTLS_ERR_SSL_TIMEOUT;
    if (s < 0) return MBEDTLS_ERR_NET_RECV_FAILED;
    ssize_t n = zsock_recv(fd, buf, len, 0);
    if (n >= 0) return (int) n;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

static void z_close(void *conn) {
    fpest_zephyr *z = (fpest_zephyr *) conn;
    if (z->fd >= 0) zsock_close(z->fd);
    z->fd = -1;
}

static int z_entropy(void *ctx, unsigned char *out, size_t len, size_t *olen) {
    (void) ctx;
    if (sys_csrand_get(out, len) != 0) return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    *olen = len;
    return 0;
}

static int64_t z_now(void *ctx) {
    (void) ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 1700000000) return -1; /* SNTP has not set it yet */
    return (int64_t) ts.tv_sec;
}

void fpest_zephyr_port(fpest_port *io, fpest_zephyr *ctx) {
    ctx->fd = -1;
    io->connect = z_connect;
    io->send = z_send;
    io->recv = z_recv;
    io->close = z_close;
    io->entropy = z_entropy;
    io->now = z_now;
    io->ctx = ctx;
}

struct load_arg {
    unsigned char *buf;
    size_t size, len;
    int found, err;
};

static int on_value(const char *key, size_t len, settings_read_cb read_cb, void *cb_arg, void *param) {
    struct load_arg *a = (struct load_arg *) param;
    if (key != NULL && key[0] != '\0') return 0; /* only the exact name, not children */
    if (len > a->size) { a->err = 1; return 0; }
    ssize_t n = read_cb(cb_arg, a->buf, len);
    if (n < 0) { a->err = 1; return 0; }
    a->len = (size_t) n;
    a->found = 1;
    return 0;
}

static int z_read(void *ctx, const char *name, unsigned char *buf, size_t size, size_t *len) {
    (void) ctx;
    char key[40];
    struct load_arg a = {buf, size, 0, 0, 0};
    snprintf(key, sizeof key, "fleetpki/%s", name);
    if (settings_load_subtree_direct(key, on_value, &a) != 0 || a.err) return -1;
    if (!a.found || a.len == 0) return 1;
    *len = a.len;
    return 0;
}

static int z_write(void *ctx, const char *name, const unsigned char *buf, size_t len) {
    (void) ctx;
    char key[40];
    snprintf(key, sizeof key, "fleetpki/%s", name);
    /* settings backends append a new record and switch to it when written: the old value stays until then */
    return (len == 0 ? settings_delete(key) : settings_save_one(key, buf, len)) == 0 ? 0 : -1;
}

void fpest_zephyr_storage(fpest_storage *st, fpest_zephyr *ctx) {
    st->read = z_read;
    st->write = z_write;
    st->ctx = ctx;
}
