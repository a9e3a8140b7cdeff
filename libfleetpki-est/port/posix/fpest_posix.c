#define _GNU_SOURCE
#include "fpest_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mbedtls/entropy.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/ssl.h"

static int wait_fd(int fd, short events, uint32_t timeout_ms) {
    struct pollfd p = {fd, events, 0};
    int n;
    do n = poll(&p, 1, timeout_ms == 0 ? -1 : (int) timeout_ms);
    while (n < 0 && errno == EINTR);
    return n;
}

static int px_connect(void *ctx, const char *host, uint16_t port, uint32_t timeout_ms, void **conn) {
    fpest_posix *px = (fpest_posix *) ctx;
    struct addrinfo hints, *list, *ai;
    char service[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%u", (unsigned) port);
    if (getaddrinfo(px->connect_to ? px->connect_to : host, service, &hints, &list) != 0) return -1;
    int fd = -1;
    for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        int err = 0;
        socklen_t el = sizeof err;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0
            && (errno != EINPROGRESS || wait_fd(fd, POLLOUT, timeout_ms) <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0) return -1;
    /* TLS writes each handshake message on its own: without this, Nagle holds the second small
     * write until the server's delayed ACK (40 ms per enrollment, measured by bench/run-c-client) */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    px->fd = fd;
    *conn = px;
    return 0;
}

static int px_send(void *conn, const unsigned char *buf, size_t len) {
    fpest_posix *px = (fpest_posix *) conn;
    for (;;) {
        ssize_t n = send(px->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) return (int) n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(px->fd, POLLOUT, 30000) <= 0) return MBEDTLS_ERR_NET_SEND_FAILED;
            continue;
        }
        return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int px_recv(void *conn, unsigned char *buf, size_t len, uint32_t timeout_ms) {
    fpest_posix *px = (fpest_posix *) conn;
    for (;;) {
        int w = wait_fd(px->fd, POLLIN, timeout_ms);
        if (w == 0) return MBEDTLS_ERR_SSL_TIMEOUT;
        if (w < 0) return MBEDTLS_ERR_NET_RECV_FAILED;
        ssize_t n = recv(px->fd, buf, len, 0);
        if (n >= 0) return (int) n;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

static void px_close(void *conn) {
    fpest_posix *px = (fpest_posix *) conn;
    if (px->fd >= 0) close(px->fd);
    px->fd = -1;
}

static int px_entropy(void *ctx, unsigned char *out, size_t len, size_t *olen) {
    (void) ctx;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(out + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
        }
        got += (size_t) n;
    }
    *olen = got;
    return 0;
}

static int64_t px_now(void *ctx) {
    (void) ctx;
    return (int64_t) time(NULL);
}

void fpest_posix_port(fpest_port *io, fpest_posix *ctx) {
    ctx->fd = -1;
    io->connect = px_connect;
    io->send = px_send;
    io->recv = px_recv;
    io->close = px_close;
    io->entropy = px_entropy;
    io->now = px_now;
    io->ctx = ctx;
}

static int path_of(const fpest_posix *px, const char *name, const char *suffix, char *out, size_t size) {
    for (const char *p = name; *p; p++) /* blob names are the library's: letters, digits, '.', '-' */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')) return -1;
    int n = snprintf(out, size, "%s/%s%s", px->dir, name, suffix);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

static int st_read(void *ctx, const char *name, unsigned char *buf, size_t size, size_t *len) {
    char path[4096];
    if (path_of((fpest_posix *) ctx, name, "", path, sizeof path) != 0) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 1 : -1;
    size_t got = 0;
    for (;;) {
        if (got == size) { close(fd); return -1; } /* larger than the caller's buffer */
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { close(fd); return -1; }
        if (n == 0) break;
        got += (size_t) n;
    }
    close(fd);
    *len = got;
    return 0;
}

static int st_write(void *ctx, const char *name, const unsigned char *buf, size_t len) {
    fpest_posix *px = (fpest_posix *) ctx;
    char path[4096], tmp[4096];
    if (path_of(px, name, "", path, sizeof path) != 0 || path_of(px, name, ".tmp", tmp, sizeof tmp) != 0) return -1;
    if (len == 0) return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { close(fd); unlink(tmp); return -1; }
        done += (size_t) n;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) { unlink(tmp); return -1; }
    int dfd = open(px->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
}

void fpest_posix_storage(fpest_storage *st, fpest_posix *ctx) {
    st->read = st_read;
    st->write = st_write;
    st->ctx = ctx;
}
