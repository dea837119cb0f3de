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

/* Deferred WAL syncs, for a commit whose fdatasync another thread does (the pipelined
 * commit sync, group_commit.c). Between begin() and end() on the calling thread, a sync of
 * a WAL file opened through this VFS writes the gathered frames to the file and returns
 * without syncing; end() returns a descriptor of that WAL to fdatasync() — valid until
 * the database connection is closed — or -1 when no sync was deferred (SQLite asked for
 * none, or synced itself because the file has no descriptor of ours). */
void wal_gather_defer_begin(void);
int wal_gather_defer_end(void);
/* (A checkpoint inside the window — a write to the database file — first syncs the WAL
 * itself and ends the deferral: a WAL must be on disk before it is copied.) */

#endif
