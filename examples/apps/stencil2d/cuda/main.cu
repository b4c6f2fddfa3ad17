// stencil2d: 2D Jacobi 5-point heat diffusion on an n x n grid (CUDA variant).
//
// Usage: ./main <n> <max_iters> <tol>
//
// The grid's top edge is held at 1, the other three edges at 0; the interior starts from
// deterministic pseudo-random values in [0, 1). Up to max_iters Jacobi sweeps are run; the run
// stops early once the largest change made by one sweep is below tol.
//
// This file sets up the input, times stencil_run() (kernels.cu), prints the results, writes
// field.txt and checks the result. It is not part of what a refactoring may change.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels.h"

namespace {

constexpr uint32_t kSeed = 20240611u;
constexpr int kFieldSide = 16;   // field.txt holds a kFieldSide x kFieldSide subsample
constexpr int kSamples = 16;     // values printed on stdout
constexpr int kCheckBlock = 8;   // side of each corner block recomputed on the host
constexpr float kCheckTol = 1e-4f;
constexpr float kBoundSlack = 1e-6f;  // rounding may overshoot [0, 1] by an ulp or two

void usage(const char* prog) {
  std::fprintf(stderr, "usage: %s <n: 3..16384> <max_iters: 1..100000> <tol: >= 0, e.g. 1e-4>\n",
               prog);
}

bool parse_int(const char* s, long lo, long hi, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parse_nonneg_float(const char* s, float* out) {
  char* end = nullptr;
  float v = std::strtof(s, &end);
  if (end == s || *end != '\0' || !std::isfinite(v) || v < 0.0f) return false;
  *out = v;
  return true;
}

// Numerical Recipes LCG: the input must not depend on the C library's rand().
struct Lcg {
  uint32_t state;
  explicit Lcg(uint32_t seed) : state(seed) {}
  uint32_t next() {
    state = state * 1664525u + 1013904223u;
    return state;
  }
  float uniform() { return static_cast<float>(next() >> 8) * (1.0f / 16777216.0f); }  // [0, 1)
};

void init_grid(int n, std::vector<float>& u) {
  Lcg rng(kSeed);
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) {
      float v;
      if (i == 0) v = 1.0f;
      else if (i == n - 1 || j == 0 || j == n - 1) v = 0.0f;
      else v = rng.uniform();
      u[static_cast<size_t>(i) * n + j] = v;
    }
  }
}

// Recomputes rows [r0, r0 + side) x cols [c0, c0 + side) of the grid after `iters` sweeps, using
// only a window around the block: a value depends on cells at most `iters` steps away, so the
// window's cut edges (held at their initial values) cannot reach the block.
std::vector<float> reference_block(int n, int iters, const std::vector<float>& init, int r0,
                                   int c0, int side) {
  const int lo_r = std::max(0, r0 - iters - 1), hi_r = std::min(n, r0 + side + iters + 1);
  const int lo_c = std::max(0, c0 - iters - 1), hi_c = std::min(n, c0 + side + iters + 1);
  const int h = hi_r - lo_r, w = hi_c - lo_c;
  std::vector<float> a(static_cast<size_t>(h) * w), b;
  for (int i = 0; i < h; i++)
    for (int j = 0; j < w; j++)
      a[static_cast<size_t>(i) * w + j] = init[static_cast<size_t>(lo_r + i) * n + lo_c + j];
  b = a;
  for (int t = 0; t < iters; t++) {
    for (int i = 1; i < h - 1; i++) {
      for (int j = 1; j < w - 1; j++) {
        const size_t k = static_cast<size_t>(i) * w + j;
        b[k] = 0.2f * ((((a[k] + a[k - w]) + a[k + w]) + a[k - 1]) + a[k + 1]);
      }
    }
    std::swap(a, b);
  }
  std::vector<float> block(static_cast<size_t>(side) * side);
  for (int i = 0; i < side; i++)
    for (int j = 0; j < side; j++)
      block[static_cast<size_t>(i) * side + j] =
          a[static_cast<size_t>(r0 - lo_r + i) * w + (c0 - lo_c + j)];
  return block;
}

// Largest |got - reference| over the block at (r0, c0).
double block_error(int n, int iters, const std::vector<float>& init, const std::vector<float>& got,
                   int r0, int c0, int side) {
  const std::vector<float> ref = reference_block(n, iters, init, r0, c0, side);
  double worst = 0.0;
  for (int i = 0; i < side; i++)
    for (int j = 0; j < side; j++) {
      const double value = got[static_cast<size_t>(r0 + i) * n + c0 + j];
      const double d = std::fabs(value - ref[static_cast<size_t>(i) * side + j]);
      if (!(d <= worst)) worst = d;  // a NaN sticks
    }
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 0, max_iters = 0;
  float tol = 0.0f;
  if (argc != 4 || !parse_int(argv[1], 3, 16384, &n) ||
      !parse_int(argv[2], 1, 100000, &max_iters) || !parse_nonneg_float(argv[3], &tol)) {
    usage(argv[0]);
    return 2;
  }
  const size_t cells = static_cast<size_t>(n) * n;
  std::vector<float> init(cells), out(cells, -1.0f);
  init_grid(n, init);

  // Create the CUDA context outside the timed region.
  CUDA_CHECK(cudaFree(nullptr));

  float residual = -1.0f;
  const auto start = std::chrono::steady_clock::now();
  const int iters_done = stencil_run(n, max_iters, tol, init.data(), out.data(), &residual);
  const auto stop = std::chrono::steady_clock::now();
  const double time_ms = std::chrono::duration<double, std::milli>(stop - start).count();

  double checksum = 0.0;
  float lo = out[0], hi = out[0];
  for (size_t k = 0; k < cells; k++) {
    checksum += out[k];
    lo = std::min(lo, out[k]);
    hi = std::max(hi, out[k]);
  }

  std::printf("grid: %d x %d\n", n, n);
  std::printf("iterations: %d\n", iters_done);
  std::printf("residual: %.6e\n", residual);
  std::printf("checksum: %.6e\n", checksum);
  std::printf("min: %.6e\n", lo);
  std::printf("max: %.6e\n", hi);
  for (int k = 0; k < kSamples; k++) {
    const int r = 1 + static_cast<int>(static_cast<long>(k) * (n - 3) / (kSamples - 1));
    const int c =
        1 + static_cast<int>(static_cast<long>((5 * k) % kSamples) * (n - 3) / (kSamples - 1));
    std::printf("u[%d,%d]: %.6e\n", r, c, out[static_cast<size_t>(r) * n + c]);
  }
  std::printf("time: %.3f ms\n", time_ms);

  FILE* field = std::fopen("field.txt", "w");
  if (field == nullptr) {
    std::fprintf(stderr, "cannot write field.txt\n");
    std::printf("FAIL\n");
    return 1;
  }
  for (int a = 0; a < kFieldSide; a++) {
    const size_t r = static_cast<size_t>(a) * (n - 1) / (kFieldSide - 1);
    for (int b = 0; b < kFieldSide; b++) {
      const size_t c = static_cast<size_t>(b) * (n - 1) / (kFieldSide - 1);
      std::fprintf(field, "%.6e\n", out[r * n + c]);
    }
  }
  std::fclose(field);

  // Checks: the sweep count is consistent with tol; the maximum principle keeps every value in
  // [0, 1]; the edges are untouched; two corner blocks match a host recomputation.
  bool ok = iters_done >= 1 && iters_done <= max_iters && residual >= 0.0f &&
            (iters_done == max_iters || residual < tol);
  ok = ok && lo >= -kBoundSlack && hi <= 1.0f + kBoundSlack;
  for (int k = 0; ok && k < n; k++) {
    ok = out[k] == init[k] && out[cells - n + k] == init[cells - n + k] &&
         out[static_cast<size_t>(k) * n] == init[static_cast<size_t>(k) * n] &&
         out[static_cast<size_t>(k) * n + n - 1] == init[static_cast<size_t>(k) * n + n - 1];
  }
  if (ok && iters_done >= 1 && iters_done <= max_iters) {
    const int side = std::min(kCheckBlock, n);
    const double err = std::max(block_error(n, iters_done, init, out, 0, 0, side),
                                block_error(n, iters_done, init, out, n - side, n - side, side));
    ok = err <= kCheckTol;
    if (!ok) std::fprintf(stderr, "corner blocks differ from the host reference by %g\n", err);
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
