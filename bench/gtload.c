/*
 * gtload.c: the two measurements wrk cannot make, for bench/run.
 *
 *   gtload rate HOST PORT POOL RATE CONNS SECONDS WARMUP
 *       Open-loop fixed-rate load: RATE requests/s in all, spread evenly
 *       over CONNS keep-alive connections, replaying the raw pre-signed
 *       requests of POOL (written by bench/presign.py --raw) round-robin.
 *       Latency is measured from each request's *scheduled* send time, so a
 *       stall is charged to every request it delays (no coordinated
 *       omission, like wrk2). Prints one line:
 *       BENCH {"rate":..,"sent":..,"ok":..,"non2xx":..,"errors":..,"p50_us":..,"p99_us":..,"max_us":..}
 *
 *   gtload coldstart HOST PORT POOL -- CMD ARGS...
 *       Starts CMD, then connects (retrying every 100 us) and sends the
 *       first request of POOL until an HTTP response arrives. Prints
 *       BENCH {"coldstart_us":..,"status":..} and leaves CMD running; its pid
 *       is printed as "PID n" first so the caller can stop it.
 *
 * Why C: a Python client at a few thousand requests/s would take a core
 * from the server it measures on this 2-core machine.
 *
 * Invariants: every buffer is bounded (requests up to 64 KiB, responses up
 * to 1 MiB); the run stops by itself after WARMUP + SECONDS; only the
 * loopback address given is contacted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ (64 * 1024)
#define MAX_RESP (1024 * 1024)
#define MAX_CONNS 256

typedef struct pool {
    char **req;
    size_t *len;
    int n;
} pool;

typedef struct conn {
    int fd;
    int64_t sched_ns;     /* when the in-flight (or next) request is due */
    bool busy;
    size_t sent, want;    /* bytes of the current request sent / total */
    const char *req;
    char *buf;
    size_t have;
    int next_req;
} conn;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool parse_long(const char *s, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s)
        return false;
    *out = v;
    return true;
}

/* POOL format: repeated "<decimal length>\n<length bytes>". */
static bool load_pool(const char *path, pool *p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    p->n = 0;
    p->req = NULL;
    p->len = NULL;
    char line[32];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        long n;
        if (!parse_long(line, &n) || n <= 0 || n > MAX_REQ)
            break;
        char *b = malloc((size_t)n);
        char **nr = realloc(p->req, sizeof *nr * (size_t)(p->n + 1));
        size_t *nl = realloc(p->len, sizeof *nl * (size_t)(p->n + 1));
        if (!b || !nr || !nl || fread(b, 1, (size_t)n, f) != (size_t)n) {
            free(b);
            if (nr)
                p->req = nr;
            if (nl)
                p->len = nl;
            break;
        }
        p->req = nr;
        p->len = nl;
        p->req[p->n] = b;
        p->len[p->n] = (size_t)n;
        p->n++;
    }
    fclose(f);
    return p->n > 0;
}

static int connect_to(const char *host, int port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A complete response in buf[0..have)? Returns its total length (0: not
 * yet, -1: malformed) and its status; *close_after when the server closes. */
static long response_complete(const char *buf, size_t have, int *status, bool *close_after)
{
    const char *end = memmem(buf, have, "\r\n\r\n", 4);
    if (!end)
        return have >= MAX_RESP ? -1 : 0;
    size_t hlen = (size_t)(end - buf) + 4;
    if (have < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    long clen = 0;
    *close_after = false;
    const char *p = buf;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if (!eol)
            break;
        size_t ll = (size_t)(eol - p);
        if (ll > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
            char num[24];
            size_t k = 0;
            for (const char *q = p + 15; q < eol && k + 1 < sizeof num; q++)
                if (*q != ' ')
                    num[k++] = *q;
            num[k] = '\0';
            if (!parse_long(num, &clen) || clen < 0 || clen > MAX_RESP)
                return -1;
        } else if (ll >= 17 && strncasecmp(p, "Connection: close", 17) == 0) {
            *close_after = true;
        }
        p = eol + 2;
    }
    if (hlen + (size_t)clen > have)
        return 0;
    return (long)(hlen + (size_t)clen);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmd_rate(int argc, char **argv)
{
    long port, rate, nconn, secs, warm;
    if (argc != 9 || !parse_long(argv[3], &port) || !parse_long(argv[5], &rate) ||
        !parse_long(argv[6], &nconn) || !parse_long(argv[7], &secs) || !parse_long(argv[8], &warm) ||
        rate <= 0 || nconn <= 0 || nconn > MAX_CONNS || secs <= 0 || warm < 0) {
        fprintf(stderr, "usage: gtload rate HOST PORT POOL RATE CONNS SECONDS WARMUP\n");
        return 2;
    }
    const char *host = argv[2];
    pool p;
    if (!load_pool(argv[4], &p)) {
        fprintf(stderr, "gtload: cannot read pool %s\n", argv[4]);
        return 2;
    }
    conn *c = calloc((size_t)nconn, sizeof *c);
    size_t cap = (size_t)(rate * secs) + 16;
    int64_t *lat = malloc(cap * sizeof *lat);
    if (!c || !lat)
        return 1;
    size_t nlat = 0;
    long sent = 0, ok = 0, non2xx = 0, errors = 0;
    int64_t start = now_ns() + 20000000;  /* 20 ms to connect */
    int64_t measure_from = start + warm * 1000000000LL;
    int64_t stop = measure_from + secs * 1000000000LL;
    double interval = 1e9 / (double)rate;        /* between requests overall */
    for (int i = 0; i < nconn; i++) {
        c[i].fd = connect_to(host, (int)port);
        if (c[i].fd < 0) {
            fprintf(stderr, "gtload: cannot connect to %s:%ld\n", host, port);
            return 1;
        }
        fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
        c[i].buf = malloc(MAX_RESP);
        if (!c[i].buf)
            return 1;
        c[i].next_req = i % p.n;
        c[i].sched_ns = start + (int64_t)(interval * i);
    }
    int64_t conn_interval = (int64_t)(interval * (double)nconn);
    struct pollfd *pfd = calloc((size_t)nconn, sizeof *pfd);
    if (!pfd)
        return 1;
    for (;;) {
        int64_t t = now_ns();
        if (t >= stop)
            break;
        int64_t next_due = stop;
        for (int i = 0; i < nconn; i++) {
            conn *k = &c[i];
            if (!k->busy && k->fd >= 0 && k->sched_ns <= t) {
                k->busy = true;
                k->req = p.req[k->next_req];
                k->want = p.len[k->next_req];
                k->sent = 0;
                k->have = 0;
                k->next_req = (k->next_req + 1) % p.n;
                sent++;
            }
            if (k->busy && k->sent < k->want) {
                ssize_t w = send(k->fd, k->req + k->sent, k->want - k->sent, MSG_NOSIGNAL);
                if (w > 0)
                    k->sent += (size_t)w;
                else if (w < 0 && errno != EAGAIN) {
                    errors++;
                    close(k->fd);
                    k->fd = -1;
                }
            }
            if (!k->busy && k->fd >= 0 && k->sched_ns < next_due)
                next_due = k->sched_ns;
            pfd[i].fd = k->fd;
            pfd[i].events = k->busy ? (short)(POLLIN | (k->sent < k->want ? POLLOUT : 0)) : 0;
            pfd[i].revents = 0;
        }
        int64_t wait = next_due - now_ns();
        if (wait < 0)
            wait = 0;
        struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
        int r = ppoll(pfd, (nfds_t)nconn, &ts, NULL);
        if (r <= 0)
            continue;
        for (int i = 0; i < nconn; i++) {
            conn *k = &c[i];
            if (k->fd < 0 || !(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            ssize_t n = recv(k->fd, k->buf + k->have, MAX_RESP - k->have, 0);
            if (n <= 0) {
                if (n < 0 && errno == EAGAIN)
                    continue;
                errors++;
                close(k->fd);
                k->fd = connect_to(host, (int)port);
                if (k->fd >= 0)
                    fcntl(k->fd, F_SETFL, O_NONBLOCK);
                k->busy = false;
                k->sched_ns += conn_interval;
                continue;
            }
            k->have += (size_t)n;
            int status = 0;
            bool close_after = false;
            long full = response_complete(k->buf, k->have, &status, &close_after);
            if (full == 0)
                continue;
            int64_t done = now_ns();
            if (full < 0) {
                errors++;
            } else {
                if (status >= 200 && status < 300)
                    ok++;
                else
                    non2xx++;
                if (k->sched_ns >= measure_from && nlat < cap)
                    lat[nlat++] = (done - k->sched_ns) / 1000;
            }
            k->busy = false;
            k->sched_ns += conn_interval;
            if (close_after || full < 0) {
                close(k->fd);
                k->fd = connect_to(host, (int)port);
                if (k->fd >= 0)
                    fcntl(k->fd, F_SETFL, O_NONBLOCK);
            }
        }
    }
    qsort(lat, nlat, sizeof *lat, cmp_i64);
    int64_t p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] : 0;
    int64_t mx = nlat ? lat[nlat - 1] : 0;
    printf("BENCH {\"rate\":%ld,\"conns\":%ld,\"measured\":%zu,\"achieved_rps\":%.1f,\"sent\":%ld,\"ok\":%ld,"
           "\"non2xx\":%ld,\"errors\":%ld,\"p50_us\":%lld,\"p99_us\":%lld,\"max_us\":%lld}\n",
           rate, nconn, nlat, (double)nlat / (double)secs, sent, ok, non2xx, errors, (long long)p50,
           (long long)p99, (long long)mx);
    return errors || non2xx ? 1 : 0;
}

static int cmd_coldstart(int argc, char **argv)
{
    long port;
    if (argc < 7 || strcmp(argv[5], "--") != 0 || !parse_long(argv[3], &port)) {
        fprintf(stderr, "usage: gtload coldstart HOST PORT POOL -- CMD ARGS...\n");
        return 2;
    }
    pool p;
    if (!load_pool(argv[4], &p)) {
        fprintf(stderr, "gtload: cannot read pool %s\n", argv[4]);
        return 2;
    }
    int64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            close(devnull);
        }
        execvp(argv[6], argv + 6);
        _exit(127);
    }
    printf("PID %d\n", (int)pid);
    fflush(stdout);
    char *buf = malloc(MAX_RESP);
    if (!buf)
        return 1;
    while (now_ns() - t0 < 10000000000LL) {
        int fd = connect_to(argv[2], (int)port);
        if (fd < 0) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            continue;
        }
        size_t off = 0;
        while (off < p.len[0]) {
            ssize_t w = send(fd, p.req[0] + off, p.len[0] - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        size_t have = 0;
        int status = 0;
        bool cl = false;
        long full = 0;
        while (full == 0) {
            ssize_t n = recv(fd, buf + have, MAX_RESP - have, 0);
            if (n <= 0)
                break;
            have += (size_t)n;
            full = response_complete(buf, have, &status, &cl);
        }
        close(fd);
        if (full > 0) {
            printf("BENCH {\"coldstart_us\":%lld,\"status\":%d}\n", (long long)((now_ns() - t0) / 1000), status);
            return status >= 200 && status < 300 ? 0 : 1;
        }
    }
    fprintf(stderr, "gtload: no answer within 10 s\n");
    kill(pid, SIGTERM);
    return 1;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "rate") == 0)
        return cmd_rate(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "coldstart") == 0)
        return cmd_coldstart(argc, argv);
    fprintf(stderr, "usage: gtload rate|coldstart ...\n");
    return 2;
}
