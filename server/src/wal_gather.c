/*
 * wal_gather.c — an SQLite VFS shim that gathers the writes to a WAL file (wal_gather.h).
 *
 * Why: SQLite writes a WAL frame as two pwrite() calls, the 24-byte frame header and the
 * 4 KiB page; a frame is 4,120 bytes, so each one touches three page-cache pages of the
 * file in the kernel. A group commit of the durable benchmark writes ~1,500 frames, and
 * perf put those pwrite()s at a quarter of the storage thread (docs/performance.md). Here
 * consecutive writes to a WAL file are copied into one buffer and reach the file as one
 * write when the buffer is full, at xSync, or before anything that could look at the file
 * (a read, its size, a truncate, a file control, close).
 *
 * Durability and visibility are unchanged: SQLite calls xSync on the WAL at every commit
 * (soukd runs synchronous=FULL; store_sqlite.c) before it publishes the new frames in the
 * wal-index, so no other connection can be told about a frame that is still in a buffer,
 * and nothing is acknowledged before xSync returned. A crash loses what was not written,
 * exactly as it loses what was written but not synced. Every other file, and every other
 * method, goes straight to the underlying VFS.
 *
 * Deferred syncs (wal_gather.h): between wal_gather_defer_begin() and _end() on one thread
 * — the storage thread's COMMIT, with the pipelined commit sync — a WAL sync still writes
 * the gathered frames to the file before SQLite publishes them, but leaves the fdatasync
 * to the caller, through a descriptor of the WAL this shim opened for that. Visibility is
 * unchanged (another connection reads the frames from the file); durability moves to the
 * caller, who must not let anything depend on the commit before its fdatasync returned.
 */
#include "wal_gather.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { GATHER_BYTES = 1 << 20 }; /* one buffer per open WAL file */

typedef struct gfile {
	sqlite3_file base; /* pMethods: gather_io */
	sqlite3_file *real;
	int gather;  /* a WAL file */
	int sync_fd; /* a WAL file: its own descriptor, for deferred syncs (-1: none) */
	unsigned char *buf;
	sqlite3_int64 off; /* file offset of buf[0] */
	int len;
} gfile;

static sqlite3_vfs gather_vfs;

static sqlite3_vfs *real_vfs(void)
{
	return (sqlite3_vfs *)gather_vfs.pAppData;
}

/* The unix VFS writes at most 0x1ffff bytes per call (seekAndWriteFd masks the count with
 * 0x1ffff, and a count that is a multiple of 128 KiB becomes 0 and fails as SQLITE_FULL):
 * large writes go down in pieces of 31 pages. */
enum { WRITE_PIECE = 31 * 4096 };

static int write_through(gfile *f, const unsigned char *data, int amt, sqlite3_int64 off)
{
	while (amt > 0) {
		int n = amt < WRITE_PIECE ? amt : WRITE_PIECE;
		int rc = f->real->pMethods->xWrite(f->real, data, n, off);
		if (rc != SQLITE_OK)
			return rc;
		data += n;
		off += n;
		amt -= n;
	}
	return SQLITE_OK;
}

static int flush(gfile *f)
{
	if (!f->len)
		return SQLITE_OK;
	int rc = write_through(f, f->buf, f->len, f->off);
	f->len = 0;
	return rc;
}

/* this thread's deferral (wal_gather_defer_begin/_end) */
static _Thread_local int defer_on;
static _Thread_local int defer_fd = -1;

void wal_gather_defer_begin(void)
{
	defer_on = 1;
	defer_fd = -1;
}

int wal_gather_defer_end(void)
{
	defer_on = 0;
	int fd = defer_fd;
	defer_fd = -1;
	return fd;
}

static int g_close(sqlite3_file *p)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	if (f->sync_fd >= 0)
		close(f->sync_fd);
	f->sync_fd = -1;
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int g_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, amt, off);
}

/* A write to the database file inside a deferral is a checkpoint running inside COMMIT
 * (soukd runs its own checkpoints outside, but SQLite's automatic one would): the WAL it
 * copies must be on disk before any of it reaches the database file, so the deferred sync
 * is done here and the rest of the deferral syncs as SQLite asks. */
static int end_deferral_for_checkpoint(void)
{
	int fd = defer_fd;
	defer_on = 0;
	defer_fd = -1;
	return fd >= 0 && fdatasync(fd) != 0 ? SQLITE_IOERR_FSYNC : SQLITE_OK;
}

static int g_write(sqlite3_file *p, const void *data, int amt, sqlite3_int64 off)
{
	gfile *f = (gfile *)p;
	if (!f->gather) {
		if (defer_on) {
			int rc = end_deferral_for_checkpoint();
			if (rc != SQLITE_OK)
				return rc;
		}
		return f->real->pMethods->xWrite(f->real, data, amt, off);
	}
	if (f->len && (off != f->off + f->len || f->len + amt > GATHER_BYTES)) {
		int rc = flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (amt > GATHER_BYTES)
		return write_through(f, data, amt, off);
	if (!f->buf && !(f->buf = malloc(GATHER_BYTES)))
		return write_through(f, data, amt, off);
	if (!f->len)
		f->off = off;
	memcpy(f->buf + f->len, data, (size_t)amt);
	f->len += amt;
	return SQLITE_OK;
}

static int g_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int g_sync(sqlite3_file *p, int flags)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	if (rc != SQLITE_OK)
		return rc;
	if (defer_on && f->gather && f->sync_fd >= 0) {
		defer_fd = f->sync_fd; /* written; the caller fdatasyncs */
		return SQLITE_OK;
	}
	return f->real->pMethods->xSync(f->real, flags);
}

static int g_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int g_lock(sqlite3_file *p, int lock)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xLock(f->real, lock);
}

static int g_unlock(sqlite3_file *p, int lock)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	int rc2 = f->real->pMethods->xUnlock(f->real, lock);
	return rc != SQLITE_OK ? rc : rc2;
}

static int g_check_reserved(sqlite3_file *p, int *out)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int g_file_control(sqlite3_file *p, int op, void *arg)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	if (rc != SQLITE_OK)
		return rc;
	rc = f->real->pMethods->xFileControl(f->real, op, arg);
	if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK) {
		char *name = sqlite3_mprintf("souk-wal-gather/%z", *(char **)arg);
		*(char **)arg = name;
	}
	return rc;
}

static int g_sector_size(sqlite3_file *p)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int g_device_characteristics(sqlite3_file *p)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int g_shm_map(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **out)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, out);
}

static int g_shm_lock(sqlite3_file *p, int offset, int n, int flags)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void g_shm_barrier(sqlite3_file *p)
{
	gfile *f = (gfile *)p;
	f->real->pMethods->xShmBarrier(f->real);
}

static int g_shm_unmap(sqlite3_file *p, int del)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int g_fetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **pp)
{
	gfile *f = (gfile *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, off, amt, pp);
}

static int g_unfetch(sqlite3_file *p, sqlite3_int64 off, void *pg)
{
	gfile *f = (gfile *)p;
	return f->real->pMethods->xUnfetch(f->real, off, pg);
}

static const sqlite3_io_methods gather_io = {
	.iVersion = 3,
	.xClose = g_close,
	.xRead = g_read,
	.xWrite = g_write,
	.xTruncate = g_truncate,
	.xSync = g_sync,
	.xFileSize = g_file_size,
	.xLock = g_lock,
	.xUnlock = g_unlock,
	.xCheckReservedLock = g_check_reserved,
	.xFileControl = g_file_control,
	.xSectorSize = g_sector_size,
	.xDeviceCharacteristics = g_device_characteristics,
	.xShmMap = g_shm_map,
	.xShmLock = g_shm_lock,
	.xShmBarrier = g_shm_barrier,
	.xShmUnmap = g_shm_unmap,
	.xFetch = g_fetch,
	.xUnfetch = g_unfetch,
};

/* fsync()s the directory that holds `path` */
static int sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return -1;
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int g_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *out_flags)
{
	(void)vfs;
	gfile *f = (gfile *)p;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)&f[1];
	int rc = real_vfs()->xOpen(real_vfs(), name, f->real, flags, out_flags);
	if (rc != SQLITE_OK || !f->real->pMethods) {
		p->pMethods = NULL;
		return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
	}
	if (f->real->pMethods->iVersion < 3) { /* wraps only what it can forward */
		f->real->pMethods->xClose(f->real);
		p->pMethods = NULL;
		return SQLITE_CANTOPEN;
	}
	f->gather = (flags & SQLITE_OPEN_WAL) != 0;
	f->sync_fd = -1;
	/* A deferred sync needs a descriptor of the file, and the file's directory entry on
	 * disk first: the unix VFS syncs the directory at a new file's first xSync, which a
	 * deferred sync skips. Without either, every sync stays SQLite's own. */
	if (f->gather && name) {
		int fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && sync_dir_of(name) == 0)
			f->sync_fd = fd;
		else if (fd >= 0)
			close(fd);
	}
	p->pMethods = &gather_io;
	return SQLITE_OK;
}

static int g_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	(void)v;
	return real_vfs()->xDelete(real_vfs(), name, sync_dir);
}

static int g_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return real_vfs()->xAccess(real_vfs(), name, flags, out);
}

static int g_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return real_vfs()->xFullPathname(real_vfs(), name, n, out);
}

static void *g_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return real_vfs()->xDlOpen(real_vfs(), name);
}

static void g_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	real_vfs()->xDlError(real_vfs(), n, msg);
}

static void (*g_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return real_vfs()->xDlSym(real_vfs(), h, sym);
}

static void g_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	real_vfs()->xDlClose(real_vfs(), h);
}

static int g_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs()->xRandomness(real_vfs(), n, out);
}

static int g_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return real_vfs()->xSleep(real_vfs(), us);
}

static int g_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return real_vfs()->xCurrentTime(real_vfs(), out);
}

static int g_last_error(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	return real_vfs()->xGetLastError ? real_vfs()->xGetLastError(real_vfs(), n, msg) : 0;
}

static int g_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return real_vfs()->xCurrentTimeInt64(real_vfs(), out);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered = SQLITE_ERROR;

static void register_once(void)
{
	sqlite3_vfs *real = sqlite3_vfs_find(NULL);
	if (!real || real->iVersion < 2 || !real->xCurrentTimeInt64)
		return;
	gather_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(gfile) + real->szOsFile,
		.mxPathname = real->mxPathname,
		.zName = WAL_GATHER_VFS,
		.pAppData = real,
		.xOpen = g_open,
		.xDelete = g_delete,
		.xAccess = g_access,
		.xFullPathname = g_full_pathname,
		.xDlOpen = g_dlopen,
		.xDlError = g_dlerror,
		.xDlSym = g_dlsym,
		.xDlClose = g_dlclose,
		.xRandomness = g_randomness,
		.xSleep = g_sleep,
		.xCurrentTime = g_current_time,
		.xGetLastError = g_last_error,
		.xCurrentTimeInt64 = g_current_time_int64,
	};
	registered = sqlite3_vfs_register(&gather_vfs, 0);
}

const char *wal_gather_vfs(void)
{
	pthread_once(&once, register_once);
	return registered == SQLITE_OK ? WAL_GATHER_VFS : NULL;
}
