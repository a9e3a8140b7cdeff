/* The POSIX port of libfleetpki-est: BSD sockets with poll() timeouts, getrandom(), time(), and
 * blob storage as files in a folder (each written to a temporary file, fsynced, renamed). */
#ifndef FPEST_POSIX_H
#define FPEST_POSIX_H

#include "fleetpki_est.h"

typedef struct fpest_posix {
    int fd;               /* the one open connection (-1: none); the library opens one at a time */
    const char *dir;      /* storage folder */
    const char *connect_to; /* connect to this address instead of the host name (the name is still what TLS checks), or NULL */
} fpest_posix;

/* Fill io with the POSIX functions over ctx (ctx->dir may be NULL when storage is not used). */
void fpest_posix_port(fpest_port *io, fpest_posix *ctx);
/* Storage callbacks over ctx->dir. */
void fpest_posix_storage(fpest_storage *st, fpest_posix *ctx);

#endif
