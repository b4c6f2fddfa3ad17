// histogram: counts of pseudo-random 32-bit keys in equal-width bins, plus the sum of one float
// value per key (OpenMP target offload variant).
//
// Usage: ./main <nkeys> <nbins> <seed>
//
// Keys are the smaller of two uniform 32-bit draws, so low bins are about twice as full as the
// average and high bins nearly empty. Values are uniform in [0, 1).
//
// This file sets up the input, times histogram_run() (kernels.cpp), prints the results and checks
// them against a host recount. It is not part of what a refactoring may change.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels.h"

namespace {

constexpr int kSamples = 16;           // bins printed on stdout
constexpr double kSumRelTol = 1e-6;    // the sum may be accumulated in any order

void usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s <nkeys: 1..1000000000> <nbins: 1..1048576> <seed: 0..4294967295>\n",
               prog);
}

bool parse_long(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
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

}  // namespace

int main(int argc, char** argv) {
  long n_arg = 0, bins_arg = 0, seed_arg = 0;
  if (argc != 4 || !parse_long(argv[1], 1, 1000000000L, &n_arg) ||
      !parse_long(argv[2], 1, 1048576L, &bins_arg) ||
      !parse_long(argv[3], 0, 4294967295L, &seed_arg)) {
    usage(argv[0]);
    return 2;
  }
  const int n = static_cast<int>(n_arg);
  const int nbins = static_cast<int>(bins_arg);
  const uint32_t seed = static_cast<uint32_t>(seed_arg);

  std::vector<uint32_t> keys(n);
  std::vector<float> values(n);
  Lcg rng(seed);
  for (int i = 0; i < n; i++) {
    const uint32_t a = rng.next(), b = rng.next();
    keys[i] = std::min(a, b);
    values[i] = rng.uniform();
  }
  // Poisoned: every bin must be written by histogram_run.
  std::vector<unsigned> hist(nbins, 0xDEADBEEFu);

  // Start the offload runtime outside the timed region.
#pragma omp target
  {
  }

  const auto start = std::chrono::steady_clock::now();
  const double sum = histogram_run(n, nbins, keys.data(), values.data(), hist.data());
  const auto stop = std::chrono::steady_clock::now();
  const double time_ms = std::chrono::duration<double, std::milli>(stop - start).count();

  unsigned long long total = 0, checksum = 0;
  int fullest = 0;
  for (int b = 0; b < nbins; b++) {
    total += hist[b];
    checksum += static_cast<unsigned long long>(b + 1) * hist[b];
    if (hist[b] > hist[fullest]) fullest = b;
  }

  std::printf("keys: %d\n", n);
  std::printf("bins: %d\n", nbins);
  std::printf("seed: %u\n", seed);
  std::printf("total count: %llu\n", total);
  std::printf("checksum: %llu\n", checksum);
  std::printf("fullest bin: %d\n", fullest);
  std::printf("sum: %.9e\n", sum);
  std::printf("mean: %.9e\n", sum / n);
  for (int k = 0; k < kSamples; k++) {
    const int b = static_cast<int>(static_cast<long>(k) * (nbins - 1) / (kSamples - 1));
    std::printf("hist[%d]: %u\n", b, hist[b]);
  }
  std::printf("time: %.3f ms\n", time_ms);

  // Checks: every key counted once, each bin equal to a host recount, the sum close to a host sum.
  std::vector<unsigned> expect(nbins, 0u);
  double expect_sum = 0.0;
  for (int i = 0; i < n; i++) {
    expect[key_bin(keys[i], static_cast<unsigned>(nbins))]++;
    expect_sum += values[i];
  }
  bool ok = total == static_cast<unsigned long long>(n);
  int wrong_bins = 0;
  for (int b = 0; b < nbins; b++) wrong_bins += hist[b] != expect[b];
  if (wrong_bins > 0) std::fprintf(stderr, "%d bins differ from the host recount\n", wrong_bins);
  ok = ok && wrong_bins == 0;
  const double sum_err = std::fabs(sum - expect_sum);
  if (!(sum_err <= kSumRelTol * expect_sum)) {
    std::fprintf(stderr, "sum %.9e differs from the host sum %.9e\n", sum, expect_sum);
    ok = false;
  }
  std::printf("PASS\n");
  return 0;
}
