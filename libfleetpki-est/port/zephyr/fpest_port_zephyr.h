/* The Zephyr port: BSD sockets (zsock_*), the CSPRNG (sys_csrand_get), the realtime clock (set it
 * with SNTP), and blobs in the settings subsystem under "fleetpki/<name>". */
#ifndef FPEST_PORT_ZEPHYR_H
#define FPEST_PORT_ZEPHYR_H

#include "fleetpki_est.h"

typedef struct fpest_zephyr {
    int fd;
} fpest_zephyr;

void fpest_zephyr_port(fpest_port *io, fpest_zephyr *ctx);
void fpest_zephyr_storage(fpest_storage *st, fpest_zephyr *ctx); /* call settings_subsys_init() first */

#endif
