/* The ESP-IDF port: lwIP sockets, the hardware RNG (esp_fill_random), time() (set it with SNTP
 * first: certificates are checked against it), and blob storage in NVS. */
#ifndef FPEST_PORT_ESP_H
#define FPEST_PORT_ESP_H

#include "fleetpki_est.h"
#include "nvs.h"

typedef struct fpest_esp {
    int fd;
    nvs_handle_t nvs;  /* opened by fpest_esp_storage on CONFIG_FPEST_NVS_NAMESPACE */
} fpest_esp;

void fpest_esp_port(fpest_port *io, fpest_esp *ctx);
int fpest_esp_storage(fpest_storage *st, fpest_esp *ctx); /* 0, or the esp_err_t of nvs_open */

#endif
