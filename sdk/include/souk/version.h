/*
 * souk/version.h — the libsouk version, at compile time and at run time.
 *
 * Compare SOUK_VERSION_NUMBER (what you compiled against) with souk_version_number()
 * (what you are running with) when you need a feature added in a minor release.
 */
#ifndef SOUK_VERSION_H
#define SOUK_VERSION_H

#include "souk/common.h"

#define SOUK_VERSION_MAJOR 0
#define SOUK_VERSION_MINOR 1
#define SOUK_VERSION_PATCH 0
#define SOUK_VERSION_STRING "0.1.0"
/* major * 10000 + minor * 100 + patch */
#define SOUK_VERSION_NUMBER 100

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually loaded, "major.minor.patch". Static string. */
SOUK_API const char *souk_version(void);

/* The same as a number: major * 10000 + minor * 100 + patch. */
SOUK_API int souk_version_number(void);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
