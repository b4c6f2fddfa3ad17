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
  const long n = atol(argv[1]);
  const int repeat = atoi(argv[2]);
  std::vector<double> x(n);
  for (long i = 0; i < n; i++) x[i] = (double)i;
  const double* px = x.data();
  double sum = 0.0;
  auto start = std::chrono::steady_clock::now();
  #pragma omp target data map(to: px[0:n])
  for (int r = 0; r < repeat; r++) {
    sum = 0.0;
    #pragma omp target teams distribute parallel for reduction(+:sum)
    for (long i = 0; i < n; i++) sum += px[i];
  }
  auto end = std::chrono::steady_clock::now();
  printf("Average kernel execution time %f (us)\n",
         std::chrono::duration<double, std::micro>(end - start).count() / repeat);
  printf("sum = %.6e\n", sum);
  bool ok = std::fabs(sum - reference_sum(n)) <= 1e-9 * reference_sum(n);
  printf("%s\n", ok ? "PASS" : "FAIL");
  return 0;
}
