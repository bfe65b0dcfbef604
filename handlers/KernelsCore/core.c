/* The shared kernel machinery: weight and activation packing, the blocked GEMM driver, batched
   matmul, softmax and layer norm drivers, and the portable scalar micro-kernels. No ISA-specific code. */
#include "kernels_core.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const ConfideHostApi *kc_host = NULL;

typedef float kc_alias_f32 __attribute__((may_alias));

#define KC_MR 8u          /* rows of the scalar micro-kernel */
#define KC_MC_ROWS 64u    /* rows of C per parallel tile */
#define KC_NC_PANELS 4u   /* weight panels (of KC_NR columns) per parallel tile */
#define KC_MAX_DIM (1ull << 31)
#define KC_MAX_ATTENTION_LENGTH (1ull << 20)  /* rows of one sequence, columns of one head: scratch sizes stay far from overflow */

static uint64_t round_up(uint64_t value, uint64_t multiple) { return (value + multiple - 1) / multiple * multiple; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static ConfideError *kc_error(uint32_t code, const char *format, ...) {
    char message[256];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    return kc_host->error_new(code, message);
}

ConfideError *kc_init(const ConfideHostApi *host) {
    if (host == NULL) return NULL;
    kc_host = host;
    /* The functions the kernels call (errors, memory, parallel_for) are in every host table of this major. */
    if (host->abi_major != CONFIDE_ABI_MAJOR ||
        host->struct_size < offsetof(ConfideHostApi, parallel_thread_count) + sizeof(void *)) {
        return kc_error(CONFIDE_ERROR_UNSUPPORTED, "kernel plugins need a host of Confide ABI %d.x", CONFIDE_ABI_MAJOR);
    }
    return NULL;
}

static void kc_parallel(uint64_t count, uint64_t grain, void *context, ConfideParallelBody body) {
    kc_host->parallel_for(count, grain, context, body);
}

/* ---- Per-thread scratch -------------------------------------------------------------------- */

typedef struct kc_scratch {
    void *pointer[2];
    size_t size[2];
} kc_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *value) {
    kc_scratch *scratch = value;
    for (int slot = 0; slot < 2; slot++) kc_host->aligned_free(scratch->pointer[slot]);
    free(scratch);
}

static void scratch_make_key(void) { pthread_key_create(&scratch_key, scratch_free); }

/* A 64-byte aligned buffer of at least `bytes` for this thread, kept for reuse; NULL when out of memory. */
static void *kc_scratch_get(int slot, size_t bytes) {
    pthread_once(&scratch_once, scratch_make_key);
    kc_scratch *scratch = pthread_getspecific(scratch_key);
    if (scratch == NULL) {
        scratch = calloc(1, sizeof *scratch);
        if (scratch == NULL || pthread_setspecific(scratch_key, scratch) != 0) {
            free(scratch);
            return NULL;
        }
    }
    if (scratch->size[slot] < bytes) {
        kc_host->aligned_free(scratch->pointer[slot]);
        size_t size = bytes + bytes / 4;
        scratch->pointer[slot] = kc_host->aligned_alloc(64, size);
        scratch->size[slot] = scratch->pointer[slot] ? size : 0;
    }
    return scratch->pointer[slot];
}

/* ---- Conversions ---------------------------------------------------------------------------- */

#define KC_HUGE_PAGE (2ull << 20)

/* Packed weights start on a huge-page boundary and ask for transparent huge pages (Linux's "madvise" mode) before
   the packing first touches them: a short text streams every weight from memory once per call, and with 4 KB
   pages every 32 units of an FP32 panel cross into a page the TLB does not hold. The huge pages cover the
   allocation rounded up to whole huge pages when that adds at most a quarter, else the whole huge pages inside
   it (none below one). */
static uint32_t *weights_alloc(uint64_t bytes) {
    uint64_t huge = round_up(bytes, KC_HUGE_PAGE);
    if (huge - bytes > bytes / 4) huge = bytes / KC_HUGE_PAGE * KC_HUGE_PAGE;
    if (huge == 0) return kc_host->aligned_alloc(64, bytes);
    uint32_t *data = kc_host->aligned_alloc(KC_HUGE_PAGE, huge > bytes ? huge : bytes);
#ifdef MADV_HUGEPAGE
    if (data) madvise(data, huge, MADV_HUGEPAGE);
#endif
    return data;
}

uint16_t kc_bf16(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

static uint32_t f32_bits(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

static float bf16_to_f32(uint32_t half) {
    uint32_t bits = half << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static int32_t quantize(float x, float inverse_scale) {
    float q = rintf(x * inverse_scale);
    if (q > 127.0f) q = 127.0f;
    if (q < -127.0f) q = -127.0f;
    return (int32_t)q;
}

float kc_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* ---- Weights ------------------------------------------------------------------------------- */

static uint64_t k_per_unit(uint32_t precision) {
    return precision == CONFIDE_PRECISION_FP32 ? 1 : precision == CONFIDE_PRECISION_BF16 ? 2 : 4;
}

ConfideError *kc_pack_weights(const ConfideWeightsDesc *desc, ConfidePackedWeights **out) {
    if (out == NULL) return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "pack_weights: no place for the result");
    *out = NULL;
    if (desc == NULL || desc->struct_size < sizeof(ConfideWeightsDesc) || desc->data == NULL) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "pack_weights: missing or incomplete weights description");
    }
    uint32_t precision = desc->precision;
    if (precision < CONFIDE_PRECISION_FP32 || precision > CONFIDE_PRECISION_INT8) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "pack_weights: unknown precision %u", precision);
    }
    uint64_t k = desc->k, n = desc->n, ld = desc->ld;
    if (k == 0 || n == 0 || k >= KC_MAX_DIM || n >= KC_MAX_DIM) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "pack_weights: invalid size %llux%llu",
                        (unsigned long long)k, (unsigned long long)n);
    }
    int nk = desc->layout == CONFIDE_WEIGHTS_NK;
    if (desc->layout > CONFIDE_WEIGHTS_NK || ld < (nk ? k : n)) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "pack_weights: invalid layout %u or leading dimension %llu",
                        desc->layout, (unsigned long long)ld);
    }
    uint64_t kg = k_per_unit(precision);
    uint64_t units = round_up((k + kg - 1) / kg, KC_KPAD);
    uint64_t panels = (n + KC_NR - 1) / KC_NR;
    uint64_t chunks = (units + KC_KCU - 1) / KC_KCU;
    uint64_t columns = panels * KC_NR;
    ConfidePackedWeights *w = kc_host->aligned_alloc(64, sizeof *w);
    if (w == NULL) return kc_error(CONFIDE_ERROR_UNAVAILABLE, "pack_weights: out of memory");
    memset(w, 0, sizeof *w);
    w->magic = KC_MAGIC;
    w->precision = precision;
    w->k = k;
    w->n = n;
    w->kg = kg;
    w->units = units;
    w->panels = panels;
    w->chunks = chunks;
    w->data = weights_alloc(panels * units * KC_NR * sizeof(uint32_t));
    int int8 = precision == CONFIDE_PRECISION_INT8;
    if (int8) {
        w->col_scale = kc_host->aligned_alloc(64, columns * sizeof(float));
        w->col_comp = kc_host->aligned_alloc(64, chunks * columns * sizeof(int32_t));
    }
    if (w->data == NULL || (int8 && (w->col_scale == NULL || w->col_comp == NULL))) {
        kc_packed_free(w);
        return kc_error(CONFIDE_ERROR_UNAVAILABLE, "pack_weights: out of memory for %llux%llu weights",
                        (unsigned long long)k, (unsigned long long)n);
    }
    if (int8) {
        memset(w->col_scale, 0, columns * sizeof(float));
        memset(w->col_comp, 0, chunks * columns * sizeof(int32_t));
    }
    const float *data = desc->data;
#define WEIGHT(kk, j) (nk ? data[(j) * ld + (kk)] : data[(kk) * ld + (j)])
    for (uint64_t j = 0; j < columns; j++) {
        uint32_t *column = w->data + (j / KC_NR) * units * KC_NR + (j % KC_NR);
        float inverse = 0.0f;
        if (int8 && j < n) {
            float largest = 0.0f;
            for (uint64_t kk = 0; kk < k; kk++) largest = fmaxf(largest, fabsf(WEIGHT(kk, j)));
            w->col_scale[j] = largest / 127.0f;
            inverse = largest > 0.0f ? 127.0f / largest : 0.0f;
        }
        for (uint64_t u = 0; u < units; u++) {
            uint32_t unit = 0;
            if (j < n) {
                for (uint64_t part = 0; part < kg; part++) {
                    uint64_t kk = u * kg + part;
                    if (kk >= k) break;
                    float value = WEIGHT(kk, j);
                    if (precision == CONFIDE_PRECISION_FP32) {
                        unit = f32_bits(value);
                    } else if (precision == CONFIDE_PRECISION_BF16) {
                        unit |= (uint32_t)kc_bf16(value) << (16 * part);
                    } else {
                        int32_t q = quantize(value, inverse);
                        unit |= (uint32_t)(uint8_t)(int8_t)q << (8 * part);
                        w->col_comp[(u / KC_KCU) * columns + j] += 128 * q;
                    }
                }
            }
            column[u * KC_NR] = unit;
        }
    }
#undef WEIGHT
    *out = w;
    return NULL;
}

void kc_packed_free(ConfidePackedWeights *w) {
    if (w == NULL || kc_host == NULL) return;
    kc_host->aligned_free(w->data);
    kc_host->aligned_free(w->col_scale);
    kc_host->aligned_free(w->col_comp);
    w->magic = 0;
    kc_host->aligned_free(w);
}

/* ---- The GEMM driver ------------------------------------------------------------------------ */

/* The portable conversion of one row of A into k-units (see kc_path.pack_row). */
static void kc_pack_row(uint32_t precision, const float *src, uint64_t k, uint32_t *dst, uint64_t step, uint64_t units,
                        float *row_scale) {
    if (precision == CONFIDE_PRECISION_FP32) {
        for (uint64_t u = 0; u < units; u++) dst[u * step] = u < k ? f32_bits(src[u]) : 0;
    } else if (precision == CONFIDE_PRECISION_BF16) {
        for (uint64_t u = 0; u < units; u++) {
            uint32_t low = 2 * u < k ? kc_bf16(src[2 * u]) : 0, high = 2 * u + 1 < k ? kc_bf16(src[2 * u + 1]) : 0;
            dst[u * step] = low | high << 16;
        }
    } else {
        float largest = 0.0f;
        for (uint64_t kk = 0; kk < k; kk++) largest = fmaxf(largest, fabsf(src[kk]));
        *row_scale = largest / 127.0f;
        float inverse = largest > 0.0f ? 127.0f / largest : 0.0f;
        for (uint64_t u = 0; u < units; u++) {
            uint32_t unit = 0;
            for (uint64_t part = 0; part < 4; part++) {
                uint64_t kk = u * 4 + part;
                uint32_t byte = kk < k ? (uint32_t)(quantize(src[kk], inverse) + 128) : 128u;
                unit |= byte << (8 * part);
            }
            dst[u * step] = unit;
        }
    }
}

typedef struct gemm_job {
    const kc_path *path;
    const ConfidePackedWeights *w;
    uint64_t m;
    const float *a;
    uint64_t lda;
    float *c;
    uint64_t ldc;
    uint32_t flags;
    float alpha;
    const float *bias;
    const float *residual;
    uint64_t ldr;
    uint32_t *apack;
    float *row_scale;
    uint64_t mpanels, mc_panels, mtiles, nc_panels, ntiles;
    uint64_t groups;         /* row groups: one per thread (fewer when there are fewer row tiles) */
    int direct;              /* the micro-kernel reads A in place (FP32 rows need no packing) */
} gemm_job;

/* One row of `k` values into `units` units at dst[0], dst[step], ... with the path's converter (or the portable
   one); an INT8 row's scale goes to *row_scale. */
static void pack_row(const kc_path *path, uint32_t precision, const float *src, uint64_t k, uint32_t *dst,
                     uint64_t step, uint64_t units, float *row_scale) {
    if (path->pack_row) {
        path->pack_row(src, k, dst, step, units, row_scale);
    } else {
        kc_pack_row(precision, src, k, dst, step, units, row_scale);
    }
}

/* Packs one block of mr rows of A (`rows` of them real, `ld` apart; the rest zero) of `k` values into `dst` in
   the path's layout, `units` units per row: a panel [unit][mr] or rows [row][unit], both mr · units long. INT8
   row scales go to row_scale[0, mr). */
static void pack_a_block(const kc_path *path, uint32_t precision, const float *src, uint64_t ld, uint64_t rows,
                         uint64_t k, uint32_t *dst, uint64_t units, float *row_scale) {
    uint64_t mr = path->mr;
    int panels = path->a_layout == KC_A_PANELS;
    uint64_t step = panels ? mr : 1;
    for (uint64_t i = 0; i < mr; i++) {
        uint32_t *row = panels ? dst + i : dst + i * units;
        if (i < rows) {
            pack_row(path, precision, src + i * ld, k, row, step, units, row_scale + i);
        } else {
            for (uint64_t u = 0; u < units; u++) row[u * step] = 0;
            row_scale[i] = 0.0f;
        }
    }
}

/* Packs rows [p·mr, p·mr + mr) of A: rounded or quantized into units, zero-padded. */
static void pack_a_panel(const gemm_job *job, uint64_t p) {
    uint64_t mr = job->path->mr, units = job->w->units, row0 = p * mr;
    pack_a_block(job->path, job->w->precision, job->a + row0 * job->lda, job->lda, min_u64(mr, job->m - row0),
                 job->w->k, job->apack + row0 * units, units, job->row_scale + row0);
}

static void pack_a_body(void *context, uint64_t begin, uint64_t end) {
    for (uint64_t p = begin; p < end; p++) pack_a_panel(context, p);
}

/* The first row tile of row group g. */
static uint64_t group_start(const gemm_job *job, uint64_t g) { return g * job->mtiles / job->groups; }

/* Tile t's row tile and column block. Tiles are numbered group by group, and column-block-major within a
   group. The host's parallel_for gives thread i the i-th contiguous share of the tiles first, so with one
   group per thread each thread computes the same rows in every GEMM, the rows the row-wise steps between
   GEMMs (layer norm, packing A) also give it: activations stay in the cache of the core that wrote them. */
static void tile_coordinates(const gemm_job *job, uint64_t t, uint64_t *row_tile, uint64_t *column_block) {
    uint64_t g = 0;
    while (g + 1 < job->groups && t >= group_start(job, g + 1) * job->ntiles) g++;
    uint64_t first = group_start(job, g), rows = group_start(job, g + 1) - first, local = t - first * job->ntiles;
    *row_tile = first + local % rows;
    *column_block = local / rows;
}

/* The weights a thread reads after chunk `chunk` of panel q in tile t: the panel's next chunk, the tile's next
   panel (q1 is past its last), or the first panel of tile t + 1 if that is the thread's (< end); NULL after its
   last. *bytes is their size. */
static const char *next_chunk(const gemm_job *job, uint64_t t, uint64_t end, uint64_t q, uint64_t q1, uint64_t chunk,
                              uint64_t *bytes) {
    const ConfidePackedWeights *w = job->w;
    if (chunk + 1 < w->chunks) {
        chunk++;
    } else if (q + 1 < q1) {
        q++;
        chunk = 0;
    } else if (t + 1 < end) {
        uint64_t row_tile, column_block;
        tile_coordinates(job, t + 1, &row_tile, &column_block);
        q = column_block * job->nc_panels;
        chunk = 0;
    } else {
        return NULL;
    }
    uint64_t u0 = chunk * KC_KCU;
    *bytes = min_u64(KC_KCU, w->units - u0) * KC_NR * sizeof(uint32_t);
    return (const char *)(w->data + (q * w->units + u0) * KC_NR);
}

static void gemm_tiles(void *context, uint64_t begin, uint64_t end) {
    const gemm_job *job = context;
    const kc_path *path = job->path;
    const ConfidePackedWeights *w = job->w;
    uint64_t mr = path->mr, units = w->units, columns = w->panels * KC_NR;
    int int8 = w->precision == CONFIDE_PRECISION_INT8;
    if (path->thread_begin) path->thread_begin();
    for (uint64_t t = begin; t < end; t++) {
        uint64_t row_tile, column_block;
        tile_coordinates(job, t, &row_tile, &column_block);
        uint64_t p0 = row_tile * job->mc_panels, p1 = min_u64(job->mpanels, p0 + job->mc_panels);
        uint64_t q0 = column_block * job->nc_panels, q1 = min_u64(w->panels, q0 + job->nc_panels);
        /* Within a tile each weight panel runs through all its K chunks in turn: the panel streams from
           memory in one sequential run, then stays in L2 while every row block of A passes. */
        for (uint64_t q = q0; q < q1; q++) {
            uint64_t col0 = q * KC_NR;
            kc_tile tile;
            tile.cols = (uint32_t)min_u64(KC_NR, w->n - col0);
            tile.flags = job->flags;
            tile.alpha = job->alpha;
            tile.row_alpha = NULL;
            tile.ldc = job->ldc;
            tile.ldr = job->ldr;
            tile.col_scale = int8 ? w->col_scale + col0 : NULL;
            tile.bias = job->bias ? job->bias + col0 : NULL;
            for (uint64_t chunk = 0; chunk < w->chunks; chunk++) {
                uint64_t u0 = chunk * KC_KCU;
                tile.units = min_u64(KC_KCU, units - u0);
                tile.first = chunk == 0;
                tile.last = chunk + 1 == w->chunks;
                tile.b = w->data + (q * units + u0) * KC_NR;
                tile.col_comp = int8 ? w->col_comp + chunk * columns + col0 : NULL;
                /* The row blocks of this chunk compute from the cache; each brings its share of the next chunk
                   into L2 meanwhile (a line per unit: a window inside the next chunk, none if it does not fit),
                   so that the first block of the next does not wait for memory. */
                uint64_t next_bytes = 0, window = tile.units * KC_PREFETCH_LINE;
                const char *next = next_chunk(job, t, end, q, q1, chunk, &next_bytes);
                if (window > next_bytes) next = NULL;
                uint64_t share = next_bytes / (p1 - p0);
                for (uint64_t p = p0; p < p1; p++) {
                    tile.prefetch = next ? next + min_u64((p - p0) * share, next_bytes - window) : NULL;
                    uint64_t row0 = p * mr;
                    tile.rows = (uint32_t)min_u64(mr, job->m - row0);
                    if (job->direct) {
                        tile.a = (const uint32_t *)(job->a + row0 * job->lda) + u0;
                        tile.a_row_units = job->lda;
                    } else {
                        tile.a = path->a_layout == KC_A_PANELS ? job->apack + p * units * mr + u0 * mr
                                                               : job->apack + row0 * units + u0;
                        tile.a_row_units = units;
                    }
                    tile.c = job->c + row0 * job->ldc + col0;
                    tile.row_scale = int8 ? job->row_scale + row0 : NULL;
                    tile.residual = job->residual ? job->residual + row0 * job->ldr + col0 : NULL;
                    path->micro(&tile);
                }
            }
        }
    }
    if (path->thread_end) path->thread_end();
}

/* Bytes of scratch for packed A (and row scales) of m rows. */
static size_t apack_bytes(const kc_path *path, const ConfidePackedWeights *w, uint64_t m, uint64_t *mpanels) {
    *mpanels = (m + path->mr - 1) / path->mr;
    uint64_t rows = *mpanels * path->mr;
    return (size_t)(rows * w->units * sizeof(uint32_t) + round_up(rows * sizeof(float), 64));
}

/* Splits the GEMM into tiles of mc rows × nc panels for `threads` threads. Few rows (a short sentence) leave
   few tiles: narrower column blocks then keep every thread busy, at the cost of reading A more often, and a
   tile count the threads divide evenly keeps one from waiting for the other's last tile (MiniLM's 36 QKV panels
   for one sentence: 12 tiles of 3, not 9 of 4). */
static void setup_job(gemm_job *job, void *scratch, uint64_t mpanels, uint64_t threads) {
    job->mpanels = mpanels;
    job->apack = scratch;
    job->row_scale = (float *)(job->apack + mpanels * job->path->mr * job->w->units);
    job->mc_panels = job->path->mr >= KC_MC_ROWS ? 1 : KC_MC_ROWS / job->path->mr;
    job->mtiles = (mpanels + job->mc_panels - 1) / job->mc_panels;
    job->nc_panels = KC_NC_PANELS;
    while (job->nc_panels > 1) {
        uint64_t tiles = job->mtiles * ((job->w->panels + job->nc_panels - 1) / job->nc_panels);
        if (tiles >= 4 * threads && (tiles % threads == 0 || tiles >= 16 * threads)) break;
        job->nc_panels -= 1;
    }
    job->ntiles = (job->w->panels + job->nc_panels - 1) / job->nc_panels;
    job->groups = min_u64(threads, job->mtiles);
}

ConfideError *kc_gemm(const kc_impl *impl, const ConfidePackedWeights *w, uint64_t m, const float *a, uint64_t lda,
                      float *c, uint64_t ldc, const ConfideEpilogue *epilogue) {
    if (w == NULL || w->magic != KC_MAGIC) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "gemm: weights were not packed by this kernel plugin");
    }
    if (m == 0) return NULL;
    if (m >= KC_MAX_DIM || a == NULL || c == NULL || lda < w->k || ldc < w->n) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "gemm: invalid operands (m %llu, lda %llu, ldc %llu for k %llu, n %llu)",
                        (unsigned long long)m, (unsigned long long)lda, (unsigned long long)ldc,
                        (unsigned long long)w->k, (unsigned long long)w->n);
    }
    gemm_job job = {.path = &impl->path[w->precision], .w = w, .m = m, .a = a, .lda = lda, .c = c, .ldc = ldc,
                    .alpha = 1.0f};
    if (epilogue != NULL) {
        if (epilogue->struct_size < sizeof(ConfideEpilogue)) {
            return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "gemm: epilogue of %u bytes is too small", epilogue->struct_size);
        }
        uint32_t known = CONFIDE_EPILOGUE_BIAS | CONFIDE_EPILOGUE_GELU | CONFIDE_EPILOGUE_RESIDUAL;
        if (epilogue->flags & ~known) {
            return kc_error(CONFIDE_ERROR_UNSUPPORTED, "gemm: unknown epilogue flags 0x%x", epilogue->flags & ~known);
        }
        if ((epilogue->flags & CONFIDE_EPILOGUE_BIAS) && epilogue->bias == NULL) {
            return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "gemm: bias requested without a bias");
        }
        if ((epilogue->flags & CONFIDE_EPILOGUE_RESIDUAL) && (epilogue->residual == NULL || epilogue->ld_residual < w->n)) {
            return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "gemm: residual requested without a valid residual");
        }
        job.flags = epilogue->flags;
        job.bias = (job.flags & CONFIDE_EPILOGUE_BIAS) ? epilogue->bias : NULL;
        job.residual = (job.flags & CONFIDE_EPILOGUE_RESIDUAL) ? epilogue->residual : NULL;
        job.ldr = epilogue->ld_residual;
    }
    uint64_t mpanels;
    void *scratch = kc_scratch_get(0, apack_bytes(job.path, w, m, &mpanels));
    if (scratch == NULL) return kc_error(CONFIDE_ERROR_UNAVAILABLE, "gemm: out of memory for %llu rows", (unsigned long long)m);
    setup_job(&job, scratch, mpanels, kc_host->parallel_thread_count());
    /* A packed FP32 row is the row itself: with no K padding, a row-layout micro-kernel (which reads only the tile's
       rows) reads A where it lies. */
    if (w->precision == CONFIDE_PRECISION_FP32 && job.path->a_layout == KC_A_ROWS && w->units == w->k) {
        job.direct = 1;
    } else {
        kc_parallel(mpanels, 1, &job, pack_a_body);
    }
    kc_parallel(job.mtiles * job.ntiles, 1, &job, gemm_tiles);
    return NULL;
}

/* ---- Batched matmul ------------------------------------------------------------------------- */

typedef struct bmm_job {
    const kc_impl *impl;
    const ConfideBatchedMatmul *d;
    uint64_t units, panels;
    int failed;
} bmm_job;

/* Packs one item's B (k × n, or n × k transposed) into FP32 weight panels, zero-padded: unit by unit, so
   the untransposed case copies contiguous rows and the transposed one reads KC_NR rows in step. */
static void pack_b_item(const ConfideBatchedMatmul *d, const float *b, uint32_t *data, uint64_t units, uint64_t panels) {
    for (uint64_t q = 0; q < panels; q++) {
        uint64_t j0 = q * KC_NR, cols = min_u64(KC_NR, d->n - j0);
        uint32_t *panel = data + q * units * KC_NR;
        for (uint64_t u = 0; u < units; u++) {
            uint32_t *dst = panel + u * KC_NR;
            uint64_t filled = 0;
            if (u < d->k) {
                if (d->trans_b) {
                    for (uint64_t j = 0; j < cols; j++) dst[j] = f32_bits(b[(j0 + j) * d->ldb + u]);
                } else {
                    memcpy(dst, b + u * d->ldb + j0, cols * sizeof(float));
                }
                filled = cols;
            }
            memset(dst + filled, 0, (KC_NR - filled) * sizeof(uint32_t));
        }
    }
}

static void bmm_body(void *context, uint64_t begin, uint64_t end) {
    bmm_job *bjob = context;
    const ConfideBatchedMatmul *d = bjob->d;
    const kc_path *path = &bjob->impl->path[CONFIDE_PRECISION_FP32];
    uint64_t units = bjob->units, panels = bjob->panels;
    uint64_t mpanels = (d->m + path->mr - 1) / path->mr;
    size_t bbytes = (size_t)(panels * units * KC_NR * sizeof(uint32_t));
    size_t abytes = (size_t)(mpanels * path->mr * units * sizeof(uint32_t) + round_up(mpanels * path->mr * sizeof(float), 64));
    uint8_t *scratch = kc_scratch_get(1, bbytes + abytes);
    if (scratch == NULL) {
        __atomic_store_n(&bjob->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    ConfidePackedWeights w = {.magic = KC_MAGIC, .precision = CONFIDE_PRECISION_FP32, .k = d->k, .n = d->n, .kg = 1,
                              .units = units, .panels = panels, .chunks = (units + KC_KCU - 1) / KC_KCU,
                              .data = (uint32_t *)scratch};
    for (uint64_t item = begin; item < end; item++) {
        uint64_t outer = item / d->inner_count, inner = item % d->inner_count;
        const float *a = d->a + outer * d->a_outer_stride + inner * d->a_inner_stride;
        const float *b = d->b + outer * d->b_outer_stride + inner * d->b_inner_stride;
        float *c = d->c + outer * d->c_outer_stride + inner * d->c_inner_stride;
        pack_b_item(d, b, w.data, units, panels);
        gemm_job job = {.path = path, .w = &w, .m = d->m, .a = a, .lda = d->lda, .c = c, .ldc = d->ldc, .alpha = d->alpha};
        setup_job(&job, scratch + bbytes, mpanels, 1);
        pack_a_body(&job, 0, mpanels);
        gemm_tiles(&job, 0, job.mtiles * job.ntiles);
    }
}

ConfideError *kc_batched_matmul(const kc_impl *impl, const ConfideBatchedMatmul *d) {
    if (d == NULL || d->struct_size < sizeof(ConfideBatchedMatmul)) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "batched_matmul: missing or incomplete description");
    }
    uint64_t items = d->outer_count * d->inner_count;
    if (items == 0 || d->m == 0 || d->n == 0) return NULL;
    if (d->k == 0 || d->m >= KC_MAX_DIM || d->n >= KC_MAX_DIM || d->k >= KC_MAX_DIM || d->outer_count >= KC_MAX_DIM ||
        d->inner_count >= KC_MAX_DIM || d->a == NULL || d->b == NULL || d->c == NULL || d->lda < d->k ||
        d->ldb < (d->trans_b ? d->k : d->n) || d->ldc < d->n) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "batched_matmul: invalid sizes or operands");
    }
    bmm_job job = {.impl = impl, .d = d, .units = round_up(d->k, KC_KPAD), .panels = (d->n + KC_NR - 1) / KC_NR};
    kc_parallel(items, 1, &job, bmm_body);
    if (job.failed) return kc_error(CONFIDE_ERROR_UNAVAILABLE, "batched_matmul: out of memory");
    return NULL;
}

/* ---- Softmax and layer norm ----------------------------------------------------------------- */

/* 1 / a row's sum of exponentials; 0 for a row that was all −∞ (its exponentials are zeros). */
static float reciprocal(float sum) { return sum > 0.0f ? 1.0f / sum : 0.0f; }

typedef struct softmax_job {
    const kc_impl *impl;
    const ConfideSoftmax *d;
} softmax_job;

static void softmax_body(void *context, uint64_t begin, uint64_t end) {
    const softmax_job *job = context;
    const ConfideSoftmax *d = job->d;
    for (uint64_t index = begin; index < end; index++) {
        uint64_t row = index % d->rows, item = index / d->rows;
        uint64_t outer = item / d->inner_count, inner = item % d->inner_count;
        float *x = d->x + outer * d->x_outer_stride + inner * d->x_inner_stride + row * d->ldx;
        const float *mask = d->mask ? d->mask + outer * d->mask_outer_stride : NULL;
        float inverse = reciprocal(job->impl->exp_row(x, mask, d->cols));
        for (uint64_t j = 0; j < d->cols; j++) x[j] *= inverse;
    }
}

ConfideError *kc_softmax(const kc_impl *impl, const ConfideSoftmax *d) {
    if (d == NULL || d->struct_size < sizeof(ConfideSoftmax)) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "softmax: missing or incomplete description");
    }
    uint64_t count = d->outer_count * d->inner_count * d->rows;
    if (count == 0 || d->cols == 0) return NULL;
    if (d->outer_count >= KC_MAX_DIM || d->inner_count >= KC_MAX_DIM || d->rows >= KC_MAX_DIM || d->x == NULL ||
        d->ldx < d->cols) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "softmax: invalid sizes or operands");
    }
    softmax_job job = {.impl = impl, .d = d};
    kc_parallel(count, 16, &job, softmax_body);
    return NULL;
}

/* ---- Fused attention ------------------------------------------------------------------------ */

typedef struct attention_job {
    const kc_impl *impl;
    const ConfideAttention *d;
    const kc_path *path;
    const uint64_t *first_row;  /* [sequence_count]: the row each sequence starts at */
    const uint64_t *lengths;    /* [sequence_count]: the checked copy of the caller's lengths */
    uint64_t kg;                /* values per unit: 1 (FP32) or 2 (BF16) */
    int failed;
} attention_job;

/* Packs V (`length` rows of `head_size`) as weight panels for P·V: unit u of column c holds V[u][c] (FP32)
   or V[2u][c], V[2u + 1][c] as a BF16 pair, zero past the sequence and past the head. */
static void attention_pack_v(const attention_job *job, const float *v, uint64_t length, uint32_t *data,
                             uint64_t units, uint64_t panels) {
    uint64_t ld = job->d->ld_qkv, head_size = job->d->head_size;
    for (uint64_t q = 0; q < panels; q++) {
        uint64_t c0 = q * KC_NR, cols = min_u64(KC_NR, head_size - c0);
        uint32_t *panel = data + q * units * KC_NR;
        for (uint64_t u = 0; u < units; u++) {
            uint32_t *dst = panel + u * KC_NR;
            const float *low = v + job->kg * u * ld + c0;
            const float *high = job->kg == 2 && 2 * u + 1 < length ? low + ld : NULL;
            if (job->kg == 2 && job->path->pack_pairs) {
                job->path->pack_pairs(low, high, cols, dst);
                continue;
            }
            if (job->kg == 1) {
                memcpy(dst, low, cols * sizeof(float));
            } else {
                for (uint64_t c = 0; c < cols; c++) {
                    dst[c] = (uint32_t)kc_bf16(low[c]) | (high ? (uint32_t)kc_bf16(high[c]) << 16 : 0u);
                }
            }
            memset(dst + cols, 0, (KC_NR - cols) * sizeof(uint32_t));
        }
    }
}

/* Where one (sequence, head) item's Q, K, V and output rows start, and how many there are. */
typedef struct attention_slice {
    const float *q, *k, *v;
    float *out;
    uint64_t length;
} attention_slice;

static attention_slice attention_slice_of(const attention_job *job, uint64_t item) {
    const ConfideAttention *d = job->d;
    uint64_t sequence = item / d->heads, head = item % d->heads;
    uint64_t row0 = job->first_row[sequence], column = head * d->head_size;
    return (attention_slice){.q = d->q + row0 * d->ld_qkv + column, .k = d->k + row0 * d->ld_qkv + column,
                             .v = d->v + row0 * d->ld_qkv + column, .out = d->out + row0 * d->ld_out + column,
                             .length = job->lengths[sequence]};
}

/* Asks for rows [first, end) of a slice's Q, K and V into L2. A head's columns are a thin strided slice of
   the fused QKV rows, which the hardware prefetchers do not follow. */
static void attention_prefetch(const attention_job *job, const attention_slice *slice, uint64_t first, uint64_t end) {
    uint64_t ld = job->d->ld_qkv, bytes = job->d->head_size * sizeof(float);
    for (uint64_t j = first; j < end && j < slice->length; j++) {
        for (uint64_t byte = 0; byte < bytes; byte += 64) {
            __builtin_prefetch((const char *)(slice->k + j * ld) + byte, 0, 2);
            __builtin_prefetch((const char *)(slice->v + j * ld) + byte, 0, 2);
            __builtin_prefetch((const char *)(slice->q + j * ld) + byte, 0, 2);
        }
    }
}

/* One (sequence, head) item: Kᵀ and V packed once, then blocks of mr query rows whose scores stay in a
   small buffer from Q·Kᵀ through the softmax to P·V. While it computes, the rows of `next` (if any) are
   fetched, a share per block. */
static void attention_item(const attention_job *job, const attention_slice *slice, const attention_slice *next,
                           uint8_t *scratch) {
    const ConfideAttention *d = job->d;
    const kc_path *path = job->path;
    uint64_t length = slice->length, head_size = d->head_size;
    if (length == 0) return;
    uint64_t mr = path->mr, kg = job->kg;
    uint64_t qk_units = (head_size + kg - 1) / kg, pv_units = (length + kg - 1) / kg;
    uint64_t k_panels = (length + KC_NR - 1) / KC_NR, v_panels = (head_size + KC_NR - 1) / KC_NR;
    uint64_t ld_scores = k_panels * KC_NR, blocks = (length + mr - 1) / mr;
    uint64_t next_rows = next ? (next->length + blocks - 1) / blocks : 0;
    uint32_t *kt = (uint32_t *)scratch;
    uint32_t *vp = kt + k_panels * qk_units * KC_NR;
    float *scores = (float *)(vp + v_panels * pv_units * KC_NR);
    uint32_t *a = (uint32_t *)(scores + mr * ld_scores);
    /* The packers' row scales: written for padding rows, never read (attention has no INT8). */
    float *row_scale = (float *)(a + mr * (qk_units > pv_units ? qk_units : pv_units));
    /* Each row's 1 / Σ exp: P·V multiplies its rows by it, so the probabilities are never divided. */
    float *inverse = row_scale + mr;
    /* FP32 rows need no conversion: a row-layout micro-kernel reads the blocks of Q and the probabilities in
       place. */
    int in_place = kg == 1 && path->a_layout == KC_A_ROWS;
    /* BF16 rows: the exponentials go straight into P·V's A as BF16 pairs (padding rows zero). */
    int exp_pairs = kg == 2 && path->a_layout == KC_A_ROWS && job->impl->exp_row_bf16;

    /* Kᵀ as weight panels for Q·Kᵀ: column j is key j, so each key's row converts into one column. */
    for (uint64_t panel = 0; panel < k_panels; panel++) {
        uint32_t *data = kt + panel * qk_units * KC_NR;
        uint64_t j0 = panel * KC_NR, keys = min_u64(KC_NR, length - j0);
        const float *k = slice->k + j0 * d->ld_qkv;
        if (path->pack_columns) {
            path->pack_columns(k, d->ld_qkv, keys, head_size, data, qk_units);
            continue;
        }
        for (uint64_t j = 0; j < KC_NR; j++) {
            if (j < keys) {
                pack_row(path, d->precision, k + j * d->ld_qkv, head_size, data + j, KC_NR, qk_units, NULL);
            } else {
                for (uint64_t u = 0; u < qk_units; u++) data[u * KC_NR + j] = 0;
            }
        }
    }
    attention_pack_v(job, slice->v, length, vp, pv_units, v_panels);

    kc_tile tile = {.first = 1, .last = 1};
    for (uint64_t block = 0; block < blocks; block++) {
        uint64_t i0 = block * mr;
        uint32_t rows = (uint32_t)min_u64(mr, length - i0);
        if (next) attention_prefetch(job, next, block * next_rows, (block + 1) * next_rows);
        const float *q = slice->q + i0 * d->ld_qkv;
        if (in_place) {
            tile.a = (const uint32_t *)q;
            tile.a_row_units = d->ld_qkv;
        } else {
            pack_a_block(path, d->precision, q, d->ld_qkv, rows, head_size, a, qk_units, row_scale);
            tile.a = a;
            tile.a_row_units = qk_units;
        }
        tile.units = qk_units;
        tile.rows = rows;
        tile.ldc = ld_scores;
        tile.alpha = d->scale;
        tile.row_alpha = NULL;
        for (uint64_t panel = 0; panel < k_panels; panel++) {
            tile.b = kt + panel * qk_units * KC_NR;
            tile.c = scores + panel * KC_NR;
            tile.cols = (uint32_t)min_u64(KC_NR, length - panel * KC_NR);
            path->micro(&tile);
        }
        for (uint32_t i = 0; i < rows; i++) {
            float *row = scores + i * ld_scores;
            inverse[i] = reciprocal(exp_pairs ? job->impl->exp_row_bf16(row, length, a + i * pv_units)
                                              : job->impl->exp_row(row, NULL, length));
        }
        if (in_place) {
            tile.a = (const uint32_t *)scores;
            tile.a_row_units = ld_scores;
        } else {
            if (exp_pairs) {
                memset(a + rows * pv_units, 0, (mr - rows) * pv_units * sizeof(uint32_t));
            } else {
                pack_a_block(path, d->precision, scores, ld_scores, rows, length, a, pv_units, row_scale);
            }
            tile.a = a;
            tile.a_row_units = pv_units;
        }
        tile.units = pv_units;
        tile.ldc = d->ld_out;
        tile.alpha = 1.0f;
        tile.row_alpha = inverse;
        for (uint64_t panel = 0; panel < v_panels; panel++) {
            tile.b = vp + panel * pv_units * KC_NR;
            tile.c = slice->out + i0 * d->ld_out + panel * KC_NR;
            tile.cols = (uint32_t)min_u64(KC_NR, head_size - panel * KC_NR);
            path->micro(&tile);
        }
    }
}

static void attention_body(void *context, uint64_t begin, uint64_t end) {
    attention_job *job = context;
    const ConfideAttention *d = job->d;
    uint64_t longest = 0;
    for (uint64_t item = begin; item < end; item++) {
        uint64_t length = job->lengths[item / d->heads];
        if (length > longest) longest = length;
    }
    uint64_t mr = job->path->mr, kg = job->kg;
    uint64_t qk_units = (d->head_size + kg - 1) / kg, pv_units = (longest + kg - 1) / kg;
    uint64_t k_panels = (longest + KC_NR - 1) / KC_NR, v_panels = (d->head_size + KC_NR - 1) / KC_NR;
    size_t bytes = (size_t)(k_panels * qk_units * KC_NR + v_panels * pv_units * KC_NR + mr * k_panels * KC_NR +
                            mr * (qk_units > pv_units ? qk_units : pv_units) + 2 * mr) * sizeof(uint32_t);
    uint8_t *scratch = kc_scratch_get(1, bytes);
    if (scratch == NULL) {
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    if (job->path->thread_begin) job->path->thread_begin();
    attention_slice slice = attention_slice_of(job, begin), next = slice;
    attention_prefetch(job, &slice, 0, slice.length);
    for (uint64_t item = begin; item < end; item++) {
        if (item + 1 < end) next = attention_slice_of(job, item + 1);
        attention_item(job, &slice, item + 1 < end ? &next : NULL, scratch);
        slice = next;
    }
    if (job->path->thread_end) job->path->thread_end();
}

ConfideError *kc_attention(const kc_impl *impl, const ConfideAttention *d) {
    if (d == NULL || d->struct_size < sizeof(ConfideAttention)) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "attention: missing or incomplete description");
    }
    if (d->precision != CONFIDE_PRECISION_FP32 && d->precision != CONFIDE_PRECISION_BF16) {
        return kc_error(CONFIDE_ERROR_UNSUPPORTED, "attention: precision %u is not FP32 or BF16", d->precision);
    }
    if (d->sequence_count == 0) return NULL;
    uint64_t width = d->heads * d->head_size;
    if (d->sequence_count >= KC_MAX_DIM || d->heads == 0 || d->heads >= KC_MAX_DIM || d->head_size == 0 ||
        d->head_size > KC_MAX_ATTENTION_LENGTH || d->lengths == NULL || d->q == NULL || d->k == NULL || d->v == NULL ||
        d->out == NULL || d->ld_qkv < width || d->ld_out < width || d->ld_qkv >= KC_MAX_DIM || d->ld_out >= KC_MAX_DIM) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "attention: invalid sizes or operands");
    }
    uint64_t *first_row = kc_scratch_get(0, 2 * (size_t)d->sequence_count * sizeof(uint64_t));
    if (first_row == NULL) return kc_error(CONFIDE_ERROR_UNAVAILABLE, "attention: out of memory");
    uint64_t *lengths = first_row + d->sequence_count, rows = 0;
    for (uint64_t s = 0; s < d->sequence_count; s++) {
        lengths[s] = d->lengths[s];
        if (lengths[s] > KC_MAX_ATTENTION_LENGTH) {
            return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "attention: sequence %llu has %llu rows, more than %llu",
                            (unsigned long long)s, (unsigned long long)lengths[s],
                            (unsigned long long)KC_MAX_ATTENTION_LENGTH);
        }
        first_row[s] = rows;
        rows += lengths[s];
    }
    const kc_path *paths = impl->attention_path ? impl->attention_path : impl->path;
    attention_job job = {.impl = impl, .d = d, .path = &paths[d->precision], .first_row = first_row, .lengths = lengths,
                         .kg = d->precision == CONFIDE_PRECISION_BF16 ? 2 : 1};
    /* Chunks of several items, so each thread knows the item it runs next and fetches its rows in time; still
       a few chunks per thread, so threads that finish early take more. */
    uint64_t items = d->sequence_count * d->heads, threads = kc_host->parallel_thread_count();
    uint64_t grain = items / (4 * (threads ? threads : 1));
    kc_parallel(items, grain ? grain : 1, &job, attention_body);
    if (job.failed) return kc_error(CONFIDE_ERROR_UNAVAILABLE, "attention: out of memory");
    return NULL;
}

typedef struct norm_job {
    const kc_impl *impl;
    uint64_t cols, ldx, ldy;
    const float *x, *gamma, *beta;
    float *y;
    float eps;
} norm_job;

static void norm_body(void *context, uint64_t begin, uint64_t end) {
    const norm_job *job = context;
    for (uint64_t row = begin; row < end; row++) {
        job->impl->layer_norm_row(job->x + row * job->ldx, job->y + row * job->ldy, job->gamma, job->beta, job->eps,
                                  job->cols);
    }
}

ConfideError *kc_layer_norm(const kc_impl *impl, uint64_t rows, uint64_t cols, const float *x, uint64_t ldx,
                            const float *gamma, const float *beta, float eps, float *y, uint64_t ldy) {
    if (rows == 0 || cols == 0) return NULL;
    if (x == NULL || y == NULL || gamma == NULL || beta == NULL || ldx < cols || ldy < cols || !(eps >= 0.0f)) {
        return kc_error(CONFIDE_ERROR_INVALID_ARGUMENT, "layer_norm: invalid operands");
    }
    norm_job job = {.impl = impl, .cols = cols, .ldx = ldx, .ldy = ldy, .x = x, .gamma = gamma, .beta = beta, .y = y,
                    .eps = eps};
    kc_parallel(rows, 4, &job, norm_body);
    return NULL;
}

/* ---- Portable micro-kernels and row operations ---------------------------------------------- */

void kc_scalar_store(const kc_tile *t, uint32_t row, const float *values) {
    float *c = t->c + row * t->ldc;
    const float *residual = t->residual ? t->residual + row * t->ldr : NULL;
    for (uint32_t j = 0; j < t->cols; j++) {
        float v = values[j] * t->alpha * (t->row_alpha ? t->row_alpha[row] : 1.0f);
        if (!t->first) v += c[j];
        if (t->last) {
            if (t->flags & CONFIDE_EPILOGUE_BIAS) v += t->bias[j];
            if (t->flags & CONFIDE_EPILOGUE_GELU) v = kc_gelu(v);
            if (t->flags & CONFIDE_EPILOGUE_RESIDUAL) v += residual[j];
        }
        c[j] = v;
    }
}

void kc_scalar_micro_fp32(const kc_tile *t) {
    float acc[KC_MR][KC_NR] = {{0}};
    const kc_alias_f32 *a = (const kc_alias_f32 *)t->a, *b = (const kc_alias_f32 *)t->b;
    for (uint64_t u = 0; u < t->units; u++, a += KC_MR, b += KC_NR) {
        for (uint32_t i = 0; i < KC_MR; i++) {
            for (uint32_t j = 0; j < KC_NR; j++) acc[i][j] += a[i] * b[j];
        }
    }
    for (uint32_t i = 0; i < t->rows; i++) kc_scalar_store(t, i, acc[i]);
}

void kc_scalar_micro_bf16(const kc_tile *t) {
    float acc[KC_MR][KC_NR] = {{0}};
    const uint32_t *a = t->a, *b = t->b;
    for (uint64_t u = 0; u < t->units; u++, a += KC_MR, b += KC_NR) {
        float blo[KC_NR], bhi[KC_NR];
        for (uint32_t j = 0; j < KC_NR; j++) {
            blo[j] = bf16_to_f32(b[j] & 0xffffu);
            bhi[j] = bf16_to_f32(b[j] >> 16);
        }
        for (uint32_t i = 0; i < KC_MR; i++) {
            float alo = bf16_to_f32(a[i] & 0xffffu), ahi = bf16_to_f32(a[i] >> 16);
            for (uint32_t j = 0; j < KC_NR; j++) acc[i][j] += alo * blo[j] + ahi * bhi[j];
        }
    }
    for (uint32_t i = 0; i < t->rows; i++) kc_scalar_store(t, i, acc[i]);
}

void kc_scalar_micro_int8(const kc_tile *t) {
    int32_t acc[KC_MR][KC_NR] = {{0}};
    const uint8_t *a = (const uint8_t *)t->a;
    const int8_t *b = (const int8_t *)t->b;
    for (uint64_t u = 0; u < t->units; u++, a += 4 * KC_MR, b += 4 * KC_NR) {
        for (uint32_t i = 0; i < KC_MR; i++) {
            for (uint32_t j = 0; j < KC_NR; j++) {
                int32_t sum = 0;
                for (uint32_t part = 0; part < 4; part++) sum += (int32_t)a[4 * i + part] * (int32_t)b[4 * j + part];
                acc[i][j] += sum;
            }
        }
    }
    for (uint32_t i = 0; i < t->rows; i++) {
        float values[KC_NR];
        for (uint32_t j = 0; j < KC_NR; j++) {
            values[j] = j < t->cols ? (float)(acc[i][j] - t->col_comp[j]) * (t->row_scale[i] * t->col_scale[j]) : 0.0f;
        }
        kc_scalar_store(t, i, values);
    }
}

float kc_scalar_exp_row(float *x, const float *mask, uint64_t n) {
    float largest = -INFINITY;
    for (uint64_t j = 0; j < n; j++) largest = fmaxf(largest, x[j] + (mask ? mask[j] : 0.0f));
    if (largest == -INFINITY) {
        for (uint64_t j = 0; j < n; j++) x[j] = 0.0f;
        return 0.0f;
    }
    float sum = 0.0f;
    for (uint64_t j = 0; j < n; j++) {
        x[j] = expf(x[j] + (mask ? mask[j] : 0.0f) - largest);
        sum += x[j];
    }
    return sum;
}

void kc_scalar_layer_norm_row(const float *x, float *y, const float *gamma, const float *beta, float eps, uint64_t n) {
    double sum = 0.0;
    for (uint64_t j = 0; j < n; j++) sum += x[j];
    float mean = (float)(sum / (double)n);
    double squares = 0.0;
    for (uint64_t j = 0; j < n; j++) squares += (double)(x[j] - mean) * (double)(x[j] - mean);
    float inverse = (float)(1.0 / sqrt(squares / (double)n + (double)eps));
    for (uint64_t j = 0; j < n; j++) y[j] = (x[j] - mean) * inverse * gamma[j] + beta[j];
}
