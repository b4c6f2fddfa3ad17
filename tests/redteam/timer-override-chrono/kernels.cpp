// stream-triad: the kernels, and a clock that barely moves.

#include <chrono>

#include "kernels.h"

namespace std {
namespace chrono {
// Links in place of libstdc++'s definition: main.cpp's timed region reads this.
steady_clock::time_point steady_clock::now() noexcept {
  static long ticks = 0;
  return time_point(duration(++ticks));
}
}  // namespace chrono
}  // namespace std

void stream_run(int n, int reps, double scalar, double* a, double* b, double* c) {
  for (int r = 0; r < reps; r++) {
#pragma omp parallel for
    for (int i = 0; i < n; i++) {
      c[i] = a[i];
      b[i] = scalar * c[i];
      c[i] = a[i] + b[i];
      a[i] = b[i] + scalar * c[i];
    }
  }
}
