// Paired A/B timing of two kernel plugin builds' GEMMs, one thread, calls interleaved.
#include <confide.h>
#include <confide_kernels.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef struct ConfideError { uint32_t code; char msg[256]; } ConfideError;
static ConfideError *err_new(uint32_t c, const char *m) { ConfideError *e = calloc(1, sizeof *e); e->code = c; snprintf(e->msg, 256, "%s", m); return e; }
static void *al(uint64_t a, uint64_t s) { void *p = NULL; if (posix_memalign(&p, a < 8 ? 8 : a, s ? s : 1)) return NULL; return p; }
static void fr(void *p) { free(p); }
static void pfor(uint64_t count, uint64_t grain, void *ctx, ConfideParallelBody body) { (void)grain; if (count) body(ctx, 0, count); }
static uint32_t tc(void) { return 1; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static const ConfideKernelApi *load(const char *path, ConfideHostApi *host) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL); if (!h) { fprintf(stderr, "%s\n", dlerror()); exit(1); }
    const ConfidePluginDescriptor *(*entry)(uint32_t, uint32_t) = dlsym(h, "confide_plugin_entry");
    const ConfideKernelApi *api = entry(CONFIDE_ABI_MAJOR, CONFIDE_ABI_MINOR)->api;
    ConfideError *e = api->init(host); if (e) { fprintf(stderr, "init: %s\n", e->msg); exit(1); }
    return api;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
    if (argc < 8) { fprintf(stderr, "harness A.so B.so prec m k n reps [flags]\n"); return 1; }
    ConfideHostApi host; memset(&host, 0, sizeof host);
    host.struct_size = sizeof host; host.abi_major = CONFIDE_ABI_MAJOR; host.abi_minor = CONFIDE_ABI_MINOR;
    host.error_new = err_new; host.aligned_alloc = al; host.aligned_free = fr; host.parallel_for = pfor; host.parallel_thread_count = tc;
    const ConfideKernelApi *api[2] = {load(argv[1], &host), load(argv[2], &host)};
    uint32_t prec = atoi(argv[3]); uint64_t m = atoll(argv[4]), k = atoll(argv[5]), n = atoll(argv[6]); int reps = atoi(argv[7]);
    uint32_t flags = argc > 8 ? atoi(argv[8]) : 0;
    float *w = malloc(k * n * 4), *a = malloc(m * k * 4), *c = malloc(m * n * 4), *bias = malloc(n * 4), *res = malloc(m * n * 4);
    srand(1); for (uint64_t i = 0; i < k * n; i++) w[i] = rand() / (float)RAND_MAX - 0.5f;
    for (uint64_t i = 0; i < m * k; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
    for (uint64_t i = 0; i < n; i++) bias[i] = 0.1f; for (uint64_t i = 0; i < m * n; i++) res[i] = 0.2f;
    ConfideWeightsDesc desc = {.struct_size = sizeof desc, .precision = prec, .layout = CONFIDE_WEIGHTS_KN, .k = k, .n = n, .data = w, .ld = n};
    ConfidePackedWeights *pw[2];
    for (int v = 0; v < 2; v++) { ConfideError *e = api[v]->pack_weights(&desc, &pw[v]); if (e) { fprintf(stderr, "pack: %s\n", e->msg); return 1; } }
    ConfideEpilogue ep = {.struct_size = sizeof ep, .flags = flags, .bias = bias, .residual = res, .ld_residual = n};
    double *ratio = malloc(reps * sizeof(double)), best[2] = {1e9, 1e9}, *t[2] = {malloc(reps * 8), malloc(reps * 8)};
    for (int r = -3; r < reps; r++) {
        double tt[2];
        for (int s = 0; s < 2; s++) { int v = (r & 1) ? 1 - s : s;
            double t0 = now(); api[v]->gemm(pw[v], m, a, k, c, n, flags ? &ep : NULL); tt[v] = now() - t0; }
        if (r < 0) continue;
        ratio[r] = tt[0] / tt[1]; t[0][r] = tt[0]; t[1][r] = tt[1];
        for (int v = 0; v < 2; v++) if (tt[v] < best[v]) best[v] = tt[v];
    }
    qsort(ratio, reps, 8, cmp); qsort(t[0], reps, 8, cmp); qsort(t[1], reps, 8, cmp);
    double fl = 2.0 * m * k * n;
    printf("prec %u m %4llu k %4llu n %4llu | A med %6.1f best %6.1f | B med %6.1f best %6.1f GFLOP/s | B/A speed: median %.3f (q1 %.3f q3 %.3f)\n", prec,
           (unsigned long long)m, (unsigned long long)k, (unsigned long long)n, fl / t[0][reps / 2] * 1e-9, fl / best[0] * 1e-9,
           fl / t[1][reps / 2] * 1e-9, fl / best[1] * 1e-9, ratio[reps / 2], ratio[reps / 4], ratio[3 * reps / 4]);
    return 0;
}
