/*
 * shim.h — the header of the CSouk module (module.modulemap beside it): libsouk's public API,
 * every header of sdk/include/souk/ through the umbrella header.
 */
#ifndef SOUK_SWIFT_SHIM_H
#define SOUK_SWIFT_SHIM_H

#include <souk/souk.h>

#endif
