/* ESP-IDF port of libfleetpki-est (documented in docs/c-client.md; not compiled in fleetpki's CI). */
#include "fpest_port_esp.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "esp_random.h"
#include "lwip/netdb.h"
#include "lwip/sockets.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/ssl.h"
#include "sdkconfig.h"

static int esp_connect(void *ctx, const char *host, uint16_t port, uint32_t timeout_ms, void **conn) {
    fpest_esp *e = (fpest_esp *) ctx;
    struct addrinfo hints = {0}, *res = NULL;
    char service[8];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%u", (unsigned) port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL) return -1;
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0) { freeaddrinfo(res); return -1; }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* lwIP applies it to connect() too */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0) { close(fd); return -1; }
    e->fd = fd;
    *conn = e;
    return 0;
}

static int esp_send(void *conn, const unsigned char *buf, size_t len) {
    int n = send(((fpest_esp *) conn)->fd, buf, len, 0);
    if (n >= 0) return n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int esp_recv(void *conn, unsigned char *buf, size_t len, uint32_t timeout_ms) {
    int fd = ((fpest_esp *) conn)->fd;
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int s = select(fd + 1, &rd, NULL, NULL, timeout_ms ? &tv : NULL);
    if (s == 0) return MBEDTLS_ERR_SSL_TIMEOUT;
    if (s < 0) return MBEDTLS_ERR_NET_RECV_FAILED;
    int n = recv(fd, buf, len, 0);
    if (n >= 0) return n;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

static void esp_close(void *conn) {
    fpest_esp *e = (fpest_esp *) conn;
    if (e->fd >= 0) close(e->fd);
    e->fd = -1;
}

static int esp_entropy(void *ctx, unsigned char *out, size_t len, size_t *olen) {
    (void) ctx;
    esp_fill_random(out, len); /* the hardware RNG; true entropy while Wi-Fi/BT or the bootloader's RNG source is on */
    *olen = len;
    return 0;
}

static int64_t esp_now(void *ctx) {
    (void) ctx;
    time_t t = time(NULL);
    return t < 1700000000 ? -1 : (int64_t) t; /* before SNTP has set the clock: unknown */
}

void fpest_esp_port(fpest_port *io, fpest_esp *ctx) {
    ctx->fd = -1;
    io->connect = esp_connect;
    io->send = esp_send;
    io->recv = esp_recv;
    io->close = esp_close;
    io->entropy = esp_entropy;
    io->now = esp_now;
    io->ctx = ctx;
}

/* NVS keys are at most 15 characters: the library's blob names ("cert", "cert.new", "csr.new") fit */
static int nvs_read(void *ctx, const char *name, unsigned char *buf, size_t size, size_t *len) {
    size_t n = size;
    esp_err_t err = nvs_get_blob(((fpest_esp *) ctx)->nvs, name, buf, &n);
    if (err == ESP_ERR_NVS_NOT_FOUND) return 1;
    if (err != ESP_OK) return -1;
    *len = n;
    return 0;
}

static int nvs_write(void *ctx, const char *name, const unsigned char *buf, size_t len) {
    nvs_handle_t h = ((fpest_esp *) ctx)->nvs;
    esp_err_t err = len == 0 ? nvs_erase_key(h, name) : nvs_set_blob(h, name, buf, len);
    if (err == ESP_ERR_NVS_NOT_FOUND) err = ESP_OK;
    if (err == ESP_OK) err = nvs_commit(h); /* NVS writes an entry atomically: the old value stays until the commit */
    return err == ESP_OK ? 0 : -1;
}

int fpest_esp_storage(fpest_storage *st, fpest_esp *ctx) {
    esp_err_t err = nvs_open(CONFIG_FPEST_NVS_NAMESPACE, NVS_READWRITE, &ctx->nvs);
    if (err != ESP_OK) return err;
    st->read = nvs_read;
    st->write = nvs_write;
    st->ctx = ctx;
    return 0;
}
