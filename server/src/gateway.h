/*
 * gateway.h — soukd's event loop: the libwebsockets context that serves /v1/ws, /healthz
 * and /metrics on one listener, the connections, and the delivery of committed events.
 */
#ifndef SOUK_SERVER_GATEWAY_H
#define SOUK_SERVER_GATEWAY_H

#include "config.h"
#include "store.h"

typedef struct gateway gateway;

/* Creates the listener (binding the configured address) and starts the storage thread on
 * `store` (which the gateway owns from now on). NULL with a reason in err on failure. */
gateway *gateway_new(const souk_config *cfg, souk_store *store, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
int gateway_port(const gateway *gw);

/* Runs the loop until gateway_request_stop() and the graceful drain are done. */
int gateway_run(gateway *gw);

/* Async-signal-safe: asks the loop to stop (SIGTERM/SIGINT). */
void gateway_request_stop(gateway *gw);

void gateway_free(gateway *gw);

#endif
