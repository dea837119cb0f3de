/*
 * wal_gather.h — the SQLite VFS soukd's store opens its database with: the default VFS,
 * except that writes to the WAL file are gathered into large writes until SQLite syncs,
 * reads or resizes it (wal_gather.c says why and why it is safe).
 */
#ifndef SOUK_SERVER_WAL_GATHER_H
#define SOUK_SERVER_WAL_GATHER_H

#define WAL_GATHER_VFS "souk-wal-gather"

/* Registers the VFS once (not as the default) and returns its name for
 * sqlite3_open_v2(), or NULL when the default VFS cannot be wrapped (then the caller
 * opens with the default VFS). */
const char *wal_gather_vfs(void);

#endif
