// stream-triad: the four STREAM kernels (copy, scale, add, triad) over three arrays of doubles,
// repeated (HIP variant).
//
// Usage: ./main <n> <reps>
//
// a starts from deterministic pseudo-random values in [1, 2), b and c from values in [0, 1).
// One repetition maps every element a -> (2s + s^2) a with s = 0.4, so values shrink by 4% per
// repetition and stay far from overflow and underflow for any allowed reps.
//
// This file sets up the input, times stream_run() (kernels.cpp), prints the results and checks
// sampled elements against a host recomputation. It is not part of what a refactoring may change.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels.h"

namespace {

constexpr double kScalar = 0.4;
constexpr uint32_t kSeed = 977u;
constexpr int kPrinted = 8;        // elements of each array printed on stdout
constexpr int kChecked = 256;      // elements recomputed on the host
constexpr double kCheckRelTol = 1e-10;  // device FMA contraction may differ from the host

void usage(const char* prog) {
  std::fprintf(stderr, "usage: %s <n: 1..500000000> <reps: 1..10000>\n", prog);
}

bool parse_int(const char* s, long lo, long hi, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
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
  double uniform() { return static_cast<double>(next() >> 8) * (1.0 / 16777216.0); }  // [0, 1)
};

// Index of the k-th of `count` elements spread over [0, n), the last one included.
int spread_index(int k, int count, int n) {
  return static_cast<int>(static_cast<long>(k) * (n - 1) / (count > 1 ? count - 1 : 1));
}

}  // namespace

int main(int argc, char** argv) {
  int n = 0, reps = 0;
  if (argc != 3 || !parse_int(argv[1], 1, 500000000L, &n) || !parse_int(argv[2], 1, 10000, &reps)) {
    usage(argv[0]);
    return 2;
  }

  std::vector<double> a(n), b(n), c(n);
  Lcg rng(kSeed);
  for (int i = 0; i < n; i++) {
    a[i] = 1.0 + rng.uniform();
    b[i] = rng.uniform();
    c[i] = rng.uniform();
  }
  std::vector<double> a0(kChecked), b0(kChecked), c0(kChecked);
  for (int k = 0; k < kChecked; k++) {
    const int i = spread_index(k, kChecked, n);
    a0[k] = a[i];
    b0[k] = b[i];
    c0[k] = c[i];
  }

  // Create the HIP context outside the timed region.
  HIP_CHECK(hipFree(nullptr));

  const auto start = std::chrono::steady_clock::now();
  stream_run(n, reps, kScalar, a.data(), b.data(), c.data());
  const auto stop = std::chrono::steady_clock::now();
  const double time_ms = std::chrono::duration<double, std::milli>(stop - start).count();
  // STREAM's count: copy and scale move 2 words per element, add and triad 3.
  const double gbytes = 10.0 * sizeof(double) * static_cast<double>(n) * reps / 1e9;

  double sum_a = 0.0, sum_b = 0.0, sum_c = 0.0;
  for (int i = 0; i < n; i++) {
    sum_a += a[i];
    sum_b += b[i];
    sum_c += c[i];
  }

  std::printf("n: %d\n", n);
  std::printf("reps: %d\n", reps);
  std::printf("scalar: %.6e\n", kScalar);
  std::printf("sum a: %.12e\n", sum_a);
  std::printf("sum b: %.12e\n", sum_b);
  std::printf("sum c: %.12e\n", sum_c);
  for (int k = 0; k < kPrinted; k++) {
    const int i = spread_index(k, kPrinted, n);
    std::printf("a[%d]: %.12e\n", i, a[i]);
    std::printf("b[%d]: %.12e\n", i, b[i]);
    std::printf("c[%d]: %.12e\n", i, c[i]);
  }
  std::printf("time: %.3f ms (%.3f GB/s)\n", time_ms, gbytes / (time_ms / 1e3));

  // Check: the kernels act on each element alone, so sampled elements can be replayed on the host.
  bool ok = true;
  for (int k = 0; k < kChecked && ok; k++) {
    const int i = spread_index(k, kChecked, n);
    double ea = a0[k], eb = b0[k], ec = c0[k];
    for (int r = 0; r < reps; r++) {
      ec = ea;
      eb = kScalar * ec;
      ec = ea + eb;
      ea = eb + kScalar * ec;
    }
    const double err =
        std::max({std::fabs(a[i] - ea) / std::fabs(ea), std::fabs(b[i] - eb) / std::fabs(eb),
                  std::fabs(c[i] - ec) / std::fabs(ec)});
    if (!(err <= kCheckRelTol)) {
      std::fprintf(stderr, "element %d differs from the host replay (relative error %g)\n", i, err);
      ok = false;
    }
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
