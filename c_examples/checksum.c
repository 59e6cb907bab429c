/*
 * checksum: hash every regular file under a directory, one pool task per file.
 *
 *   checksum [--serial] [--workers N] DIR
 *
 * Walks DIR with nftw(FTW_PHYS) (symbolic links are not followed; anything
 * that is not a regular file is skipped), then computes a 64-bit FNV-1a hash
 * of each file's contents. Each task writes only its own result slot; the
 * main thread reads the slots only after pool_wait() / pool_free(), which
 * order every task's writes before their return.
 *
 * Output, sorted by path (strcmp order):
 *     <16 hex digits>  <path>              for each file read
 *     ERROR  <path>: <strerror>            for each file that could not be read
 *     total files=N bytes=B hash=<16 hex digits>
 * N counts the files listed (errors included), B the bytes read, and the
 * total hash is FNV-1a over, for each file in order, its path, a NUL byte,
 * and either its hash (8 bytes, big-endian) or, for an error, one 0xff byte.
 *
 * --serial hashes every file on the main thread without a pool and prints
 * byte-identical output. --workers N sets the pool capacity (default: the
 * number of online CPUs). Exit status: 0 on success, 1 if any file or call
 * failed, 2 on a usage error.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* nftw, FTW_PHYS */
#endif

#include "workerpool.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)
#define CHUNK (64 * 1024)
#define MAX_WORKERS 10000

struct file_result {
    char *path;     /* owned, from strdup */
    uint64_t hash;  /* FNV-1a of the contents, when err == 0 */
    uint64_t bytes; /* bytes read, when err == 0 */
    int err;        /* errno of the failure, 0 on success */
};

/* nftw() has no user pointer: the walk appends here. */
static struct file_result *files;
static size_t nfiles, cap_files;
static int walk_errors;

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* The task: hash one file into its own slot. Runs on a worker (or on the
 * main thread with --serial). Touches nothing shared. */
static void hash_file(void *arg)
{
    struct file_result *r = arg;
    unsigned char *buf;
    FILE *f;
    size_t n;
    uint64_t h = FNV_OFFSET, bytes = 0;

    buf = malloc(CHUNK);
    if (buf == NULL) {
        r->err = ENOMEM;
        return;
    }
    f = fopen(r->path, "rb");
    if (f == NULL) {
        r->err = errno;
        free(buf);
        return;
    }
    errno = 0;
    while ((n = fread(buf, 1, CHUNK, f)) > 0) {
        h = fnv1a(h, buf, n);
        bytes += n;
    }
    if (ferror(f))
        r->err = errno != 0 ? errno : EIO;
    fclose(f);
    free(buf);
    if (r->err == 0) {
        r->hash = h;
        r->bytes = bytes;
    }
}

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    struct file_result *grown;
    (void)ftw;

    if (type == FTW_DNR || type == FTW_NS) {
        fprintf(stderr, "checksum: cannot %s %s\n",
                type == FTW_DNR ? "read directory" : "stat", path);
        walk_errors++;
        return 0;
    }
    if (type != FTW_F || !S_ISREG(sb->st_mode))
        return 0;

    if (nfiles == cap_files) {
        size_t ncap = cap_files ? cap_files * 2 : 256;
        grown = realloc(files, ncap * sizeof *files);
        if (grown == NULL) {
            errno = ENOMEM;
            return -1;
        }
        files = grown;
        cap_files = ncap;
    }
    files[nfiles].path = strdup(path);
    if (files[nfiles].path == NULL) {
        errno = ENOMEM;
        return -1;
    }
    files[nfiles].hash = 0;
    files[nfiles].bytes = 0;
    files[nfiles].err = 0;
    nfiles++;
    return 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct file_result *)a)->path,
                  ((const struct file_result *)b)->path);
}

static void free_files(void)
{
    size_t i;
    for (i = 0; i < nfiles; i++)
        free(files[i].path);
    free(files);
    files = NULL;
    nfiles = cap_files = 0;
}

static int default_workers(void)
{
#ifdef _SC_NPROCESSORS_ONLN
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0)
        return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
#endif
    return 4;
}

/* Hash every file with a pool of `workers`. Returns 0, or -1 after printing
 * why. On failure the tasks already accepted have still run (pool_free runs
 * them), so every slot is either filled or untouched. */
static int hash_parallel(int workers)
{
    pool_options_t *opts;
    pool_t *pool;
    pool_status st;
    pool_stats stats;
    size_t i;
    int rc = 0;

    opts = pool_options_new();
    if (opts == NULL) {
        perror("checksum: pool_options_new");
        return -1;
    }
    /* A short queue lets workers pick up the next file without waiting for
     * the main thread; schedule still blocks once it is full. */
    st = pool_options_set_queue_size(opts, (size_t)workers * 2);
    if (st == POOL_OK)
        st = pool_options_set_thread_name(opts, "checksum");
    if (st != POOL_OK) {
        fprintf(stderr, "checksum: pool options: %s\n", pool_strerror(st));
        pool_options_free(opts);
        return -1;
    }
    pool = pool_new(workers, opts);
    if (pool == NULL) {
        perror("checksum: pool_new");
        pool_options_free(opts);
        return -1;
    }
    pool_options_free(opts);

    for (i = 0; i < nfiles; i++) {
        st = pool_schedule(pool, hash_file, &files[i]);
        if (st != POOL_OK) {
            fprintf(stderr, "checksum: pool_schedule(%s): %s\n", files[i].path,
                    pool_strerror(st));
            rc = -1;
            break;
        }
    }

    st = pool_wait(pool);
    if (st != POOL_OK) {
        fprintf(stderr, "checksum: pool_wait: %s\n", pool_strerror(st));
        rc = -1;
    }
    pool_get_stats(pool, &stats);
    if (rc == 0 && (stats.submitted != nfiles || stats.completed != nfiles)) {
        fprintf(stderr, "checksum: pool stats: submitted=%llu completed=%llu, expected %llu\n",
                (unsigned long long)stats.submitted, (unsigned long long)stats.completed,
                (unsigned long long)nfiles);
        rc = -1;
    }
    st = pool_free(pool);
    if (st != POOL_OK) {
        fprintf(stderr, "checksum: pool_free: %s\n", pool_strerror(st));
        rc = -1;
    }
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: checksum [--serial] [--workers N] DIR\n"
                 "  --serial     hash on the main thread, no pool\n"
                 "  --workers N  pool capacity, 1..%d (default: online CPUs)\n",
            MAX_WORKERS);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int serial = 0, workers = 0, status = 0, i;
    uint64_t total_hash = FNV_OFFSET, total_bytes = 0;
    size_t k;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--serial") == 0) {
            serial = 1;
        } else if (strcmp(argv[i], "--workers") == 0) {
            char *end;
            long n;
            if (i + 1 >= argc) {
                usage(stderr);
                return 2;
            }
            errno = 0;
            n = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || end == argv[i] || n < 1 || n > MAX_WORKERS) {
                fprintf(stderr, "checksum: --workers wants 1..%d, got '%s'\n",
                        MAX_WORKERS, argv[i]);
                return 2;
            }
            workers = (int)n;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--") == 0 && i + 2 == argc && dir == NULL) {
            dir = argv[++i];
        } else if (argv[i][0] == '-' || dir != NULL) {
            usage(stderr);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL) {
        usage(stderr);
        return 2;
    }
    if (workers == 0)
        workers = default_workers();

    if (nftw(dir, collect, 32, FTW_PHYS) != 0) {
        fprintf(stderr, "checksum: %s: %s\n", dir, strerror(errno));
        free_files();
        return 1;
    }
    if (walk_errors)
        status = 1;
    if (nfiles > 1)
        qsort(files, nfiles, sizeof *files, by_path);

    if (serial) {
        for (k = 0; k < nfiles; k++)
            hash_file(&files[k]);
    } else if (nfiles > 0 && hash_parallel(workers) != 0) {
        free_files();
        return 1;
    }

    for (k = 0; k < nfiles; k++) {
        const struct file_result *r = &files[k];
        total_hash = fnv1a(total_hash, (const unsigned char *)r->path, strlen(r->path) + 1);
        if (r->err != 0) {
            static const unsigned char marker = 0xff;
            printf("ERROR  %s: %s\n", r->path, strerror(r->err));
            total_hash = fnv1a(total_hash, &marker, 1);
            status = 1;
        } else {
            unsigned char be[8];
            int b;
            for (b = 0; b < 8; b++)
                be[b] = (unsigned char)(r->hash >> (56 - 8 * b));
            printf("%016llx  %s\n", (unsigned long long)r->hash, r->path);
            total_hash = fnv1a(total_hash, be, sizeof be);
            total_bytes += r->bytes;
        }
    }
    printf("total files=%llu bytes=%llu hash=%016llx\n", (unsigned long long)nfiles,
           (unsigned long long)total_bytes, (unsigned long long)total_hash);

    free_files();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("checksum: stdout");
        return 1;
    }
    return status;
}
