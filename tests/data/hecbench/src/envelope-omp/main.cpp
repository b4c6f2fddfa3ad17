// Running-window envelope (min and max over i +- ENVELOPE_RADIUS) with OpenMP target offload,
// checked against the host reference of the cuda variant. Written for lassi_hpc's tests.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "reference.h"

int main(int argc, char* argv[]) {
  if (argc != 3) {
    printf("Usage: %s <n> <repeat>\n", argv[0]);
    return 1;
  }
  const int n = atoi(argv[1]);
  const int repeat = atoi(argv[2]);
  std::vector<float> x(n), lower(n), upper(n), lower_ref(n), upper_ref(n);
  for (int i = 0; i < n; i++) x[i] = std::sin(0.01f * i) + 0.001f * (i % 7);
  const float* px = x.data();
  float* plo = lower.data();
  float* phi = upper.data();
  auto start = std::chrono::steady_clock::now();
  #pragma omp target data map(to: px[0:n]) map(from: plo[0:n], phi[0:n])
  for (int r = 0; r < repeat; r++) {
    #pragma omp target teams distribute parallel for
    for (int i = 0; i < n; i++) {
      float lo = px[i], hi = px[i];
      for (int k = window_begin(i); k <= window_end(i, n); k++) {
        lo = px[k] < lo ? px[k] : lo;
        hi = px[k] > hi ? px[k] : hi;
      }
      plo[i] = lo;
      phi[i] = hi;
    }
  }
  auto end = std::chrono::steady_clock::now();
  printf("Average kernel execution time %f (us)\n",
         std::chrono::duration<double, std::micro>(end - start).count() / repeat);
  double width = 0.0;
  for (int i = 0; i < n; i++) width += upper[i] - lower[i];
  printf("envelope width sum = %.6e\n", width);
  reference_envelope(x.data(), lower_ref.data(), upper_ref.data(), n);
  bool ok = true;
  for (int i = 0; i < n; i++) ok = ok && lower[i] == lower_ref[i] && upper[i] == upper_ref[i];
  printf("%s\n", ok ? "PASS" : "FAIL");
  return 0;
}
