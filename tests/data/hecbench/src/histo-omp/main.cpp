// A 64-bin histogram in HeCBench style (written for lassi_hpc's tests): prints SUCCESS or FAILURE.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "verify.h"

const int NBINS = 64;

int main(int argc, char* argv[]) {
  if (argc != 3) {
    printf("Usage: %s <length> <repeat>\n", argv[0]);
    return 1;
  }
  const int n = atoi(argv[1]);
  const int repeat = atoi(argv[2]);
  std::vector<unsigned> values(n);
  unsigned state = 12345u;
  for (int i = 0; i < n; i++) {
    state = state * 1664525u + 1013904223u;
    values[i] = (state >> 16) + (unsigned)(i % 7);
  }
  const unsigned* pv = values.data();
  unsigned bins[NBINS];

  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; r++) {
    for (int b = 0; b < NBINS; b++) bins[b] = 0;
    #pragma omp target teams distribute parallel for map(to: pv[0:n]) map(tofrom: bins[0:NBINS])
    for (int i = 0; i < n; i++) {
      #pragma omp atomic update
      bins[pv[i] % NBINS]++;
    }
  }
  auto end = std::chrono::steady_clock::now();
  printf("Average kernel execution time: %f (us)\n",
         std::chrono::duration<double, std::micro>(end - start).count() / repeat);

  for (int b = 0; b < NBINS; b += 16) printf("bin %d: %u\n", b, bins[b]);
  const int errors = count_errors(pv, n, bins, NBINS);
  printf("Found %d errors\n", errors);
  printf("%s\n", errors == 0 ? "SUCCESS" : "FAILURE");
  return 0;
}
