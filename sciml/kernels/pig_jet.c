/* Closed-form jet of a sum of diagonal Gaussians and its backward, fused over the Gaussians: the
   CPU kernel of sciml.nn.PIG (Kang, Oh, Hong, Park, ICLR 2025). Its torch twin is
   sciml.nn.pig._DiagonalGaussianJet's chunked path; tests/test_pig_native.py checks they agree.

   Compiled by sciml/kernels/native.py with -DREAL=float and -DREAL=double. Row-major layouts:
     x (n, d) points;  mu, s (k, d, N) means and inverse widths 1/sigma;  w (k, N) feature weights;
     out, grad_out (1 + 2d, n, k): the value, d/dx_j and d2/dx_j2 of each of the k channels
     (out is (1, n, k) when derivatives == 0).
   With r = x - mu, z = r s, G = exp(-|z|^2 / 2) and H = w G, summed over the N Gaussians:
     value = sum H,   d_j = -sum H r s^2,   d2_j = sum H (r^2 s^4 - s^2).
   One pass per (channel, point) over the Gaussians in L1-resident buffers: no (n, N) temporaries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef REAL
#define REAL float
#endif
#define EXP(v) _Generic((v), float: expf, default: exp)(v)
#define QCUT 100 /* |z|^2 beyond which G (< exp(-50) = 2e-22) is set to 0: no denormals, no slow exp path */
#define BLOCK 64 /* points whose gradient contributions are summed in REAL before adding them in double */

/* G and H = w G of one point against the N Gaussians of one channel; q is scratch. */
static void gaussians(int N, int d, const REAL *xp, const REAL *mu, const REAL *s, const REAL *w,
                      REAL *restrict q, REAL *restrict g, REAL *restrict h)
{
    for (int i = 0; i < N; i++) q[i] = 0;
    for (int j = 0; j < d; j++) {
        const REAL xj = xp[j], *m = mu + (size_t)j * N, *sj = s + (size_t)j * N;
        for (int i = 0; i < N; i++) {
            REAL z = (xj - m[i]) * sj[i];
            q[i] += z * z;
        }
    }
    for (int i = 0; i < N; i++) {
        REAL qi = q[i] < QCUT ? q[i] : QCUT, e = EXP((REAL)-0.5 * qi);
        g[i] = q[i] < QCUT ? e : 0;
        h[i] = w[i] * g[i];
    }
}

void pig_jet_forward(int n, int k, int N, int d, const REAL *x, const REAL *mu, const REAL *s,
                     const REAL *w, REAL *out, int derivatives, int threads)
{
#pragma omp parallel num_threads(threads)
    {
        REAL *buf = malloc(3 * (size_t)N * sizeof(REAL));
        REAL *q = buf, *g = buf + N, *h = buf + 2 * N;
#pragma omp for collapse(2) schedule(static)
        for (int c = 0; c < k; c++)
            for (int p = 0; p < n; p++) {
                const REAL *muc = mu + (size_t)c * d * N, *sc = s + (size_t)c * d * N, *xp = x + (size_t)p * d;
                gaussians(N, d, xp, muc, sc, w + (size_t)c * N, q, g, h);
                REAL v = 0;
                for (int i = 0; i < N; i++) v += h[i];
                out[(size_t)p * k + c] = v;
                for (int j = 0; derivatives && j < d; j++) {
                    const REAL xj = xp[j], *m = muc + (size_t)j * N, *sj = sc + (size_t)j * N;
                    REAL d1 = 0, d2 = 0;
                    for (int i = 0; i < N; i++) {
                        REAL s2 = sj[i] * sj[i], rs2 = (xj - m[i]) * s2, t = h[i] * rs2;
                        d1 -= t;
                        d2 += t * rs2 - h[i] * s2;
                    }
                    out[((size_t)(1 + j) * n + p) * k + c] = d1;
                    out[((size_t)(1 + d + j) * n + p) * k + c] = d2;
                }
            }
        free(buf);
    }
}

/* Gradients of sum(grad_out * out): gx (k, n, d) per channel (the caller sums over k), gmu, gs (k, d, N),
   gw (k, N); grad_out is (1 + 2d, n, k), or (1, n, k) for the value alone when derivatives == 0 (then
   b = c = 0 and the loops drop their terms). With a = grad_out[0], b_j = grad_out[1 + j], c_j = grad_out[1 + d + j]:
     Phi     = a + sum_j (c_j (r^2 s^4 - s^2) - b_j r s^2)          dL/dw = sum_points G Phi
     e_j     = H (2 c_j r s^4 - r s^2 Phi - b_j s^2)                dL/dx_j = sum_gaussians e_j
     dL/dmu_j = -sum_points e_j,   dL/ds_j = sum_points H s (4 c_j r^2 s^2 - 2 c_j - r^2 Phi - 2 b_j r). */
void pig_jet_backward(int n, int k, int N, int d, const REAL *x, const REAL *mu, const REAL *s,
                      const REAL *w, const REAL *go, REAL *gx, REAL *gmu, REAL *gs, REAL *gw, int derivatives,
                      int threads)
{
#pragma omp parallel num_threads(threads)
    {
        size_t nb = (1 + 2 * (size_t)d) * N; /* per-channel gradient entries: w, then mu (d, N), then s (d, N) */
        REAL *buf = malloc((4 * (size_t)N + nb) * sizeof(REAL));
        double *acc = malloc(nb * sizeof(double));
        REAL *q = buf, *g = buf + N, *h = buf + 2 * N, *phi = buf + 3 * N, *blk = buf + 4 * N;
#pragma omp for schedule(static)
        for (int c = 0; c < k; c++) {
            const REAL *muc = mu + (size_t)c * d * N, *sc = s + (size_t)c * d * N;
            memset(acc, 0, nb * sizeof(double));
            for (int p0 = 0; p0 < n; p0 += BLOCK) {
                int p1 = p0 + BLOCK < n ? p0 + BLOCK : n;
                memset(blk, 0, nb * sizeof(REAL));
                for (int p = p0; p < p1; p++) {
                    const REAL *xp = x + (size_t)p * d;
                    gaussians(N, d, xp, muc, sc, w + (size_t)c * N, q, g, h);
                    const REAL a = go[(size_t)p * k + c];
                    if (!derivatives) { /* value only: Phi = a, e_j = -H r s^2 a, dL/ds_j = -H s r^2 a */
                        for (int i = 0; i < N; i++) blk[i] += g[i] * a;
                        for (int j = 0; j < d; j++) {
                            const REAL xj = xp[j], *m = muc + (size_t)j * N, *sj = sc + (size_t)j * N;
                            REAL *bm = blk + (size_t)(1 + j) * N, *bs = blk + (size_t)(1 + d + j) * N, gxj = 0;
                            for (int i = 0; i < N; i++) {
                                REAL si = sj[i], r = xj - m[i], ha = h[i] * a, e = -ha * r * si * si;
                                gxj += e;
                                bm[i] -= e;
                                bs[i] -= ha * si * r * r;
                            }
                            gx[((size_t)c * n + p) * d + j] = gxj;
                        }
                        continue;
                    }
                    for (int i = 0; i < N; i++) phi[i] = a;
                    for (int j = 0; j < d; j++) {
                        const REAL xj = xp[j], *m = muc + (size_t)j * N, *sj = sc + (size_t)j * N;
                        const REAL bj = go[((size_t)(1 + j) * n + p) * k + c];
                        const REAL cj = go[((size_t)(1 + d + j) * n + p) * k + c];
                        for (int i = 0; i < N; i++) {
                            REAL s2 = sj[i] * sj[i], rs2 = (xj - m[i]) * s2;
                            phi[i] += cj * (rs2 * rs2 - s2) - bj * rs2;
                        }
                    }
                    for (int i = 0; i < N; i++) blk[i] += g[i] * phi[i];
                    for (int j = 0; j < d; j++) {
                        const REAL xj = xp[j], *m = muc + (size_t)j * N, *sj = sc + (size_t)j * N;
                        const REAL bj = go[((size_t)(1 + j) * n + p) * k + c];
                        const REAL cj = go[((size_t)(1 + d + j) * n + p) * k + c];
                        REAL *bm = blk + (size_t)(1 + j) * N, *bs = blk + (size_t)(1 + d + j) * N, gxj = 0;
                        for (int i = 0; i < N; i++) {
                            REAL si = sj[i], s2 = si * si, r = xj - m[i], rs2 = r * s2;
                            REAL e = h[i] * (2 * cj * rs2 * s2 - rs2 * phi[i] - bj * s2);
                            gxj += e;
                            bm[i] -= e;
                            bs[i] += h[i] * si * (4 * cj * r * rs2 - 2 * cj - r * r * phi[i] - 2 * bj * r);
                        }
                        gx[((size_t)c * n + p) * d + j] = gxj;
                    }
                }
                for (size_t t = 0; t < nb; t++) acc[t] += blk[t];
            }
            for (int i = 0; i < N; i++) gw[(size_t)c * N + i] = (REAL)acc[i];
            for (size_t t = 0; t < (size_t)d * N; t++) {
                gmu[(size_t)c * d * N + t] = (REAL)acc[N + t];
                gs[(size_t)c * d * N + t] = (REAL)acc[N + (size_t)d * N + t];
            }
        }
        free(acc);
        free(buf);
    }
}
