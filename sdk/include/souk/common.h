/*
 * souk/common.h — annotations shared by every libsouk header.
 *
 * Object-like macros only: they mark exported functions and tell clang (and so Swift)
 * which pointers may be NULL. Every header wraps its declarations in
 * SOUK_ASSUME_NONNULL_BEGIN/END, so an unannotated pointer is non-null and SOUK_NULLABLE
 * marks the exceptions. Under compilers other than clang the annotations expand to nothing.
 */
#ifndef SOUK_COMMON_H
#define SOUK_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define SOUK_API __attribute__((visibility("default")))
#else
#define SOUK_API
#endif

#if defined(__clang__)
#define SOUK_NULLABLE _Nullable
#define SOUK_NONNULL _Nonnull
/* Swift imports these enums as enums; the attribute is a no-op for C callers. */
#define SOUK_ENUM __attribute__((enum_extensibility(open)))
#define SOUK_ASSUME_NONNULL_BEGIN                                                                  \
	_Pragma("clang diagnostic push")                                                           \
		_Pragma("clang diagnostic ignored \"-Wnullability-extension\"")                    \
			_Pragma("clang assume_nonnull begin")
#define SOUK_ASSUME_NONNULL_END _Pragma("clang assume_nonnull end") _Pragma("clang diagnostic pop")
#else
#define SOUK_NULLABLE
#define SOUK_NONNULL
#define SOUK_ENUM
#define SOUK_ASSUME_NONNULL_BEGIN
#define SOUK_ASSUME_NONNULL_END
#endif

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

/* The client handle (souk/client.h). Declared here because every module's functions
 * take it. */
typedef struct souk_client souk_client;

/* Releases what a callback registration retained (Kotlin global refs, Swift boxes).
 * Called exactly once, when the registration is replaced or the client is freed. */
typedef void (*souk_destroy_cb)(void *SOUK_NULLABLE user_data);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
