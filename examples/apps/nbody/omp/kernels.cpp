// nbody: all-pairs gravity with OpenMP target offload.

#include <cmath>
#include <cstdlib>

#include "kernels.h"

void nbody_run(int n, int steps, float dt, float softening, const float* mass, float* pos,
               float* vel) {
  float* acc = static_cast<float*>(std::malloc(3 * static_cast<size_t>(n) * sizeof(float)));

#pragma omp target data map(to : mass[0:n]) map(tofrom : pos[0:3 * n], vel[0:3 * n]) \
    map(alloc : acc[0:3 * n])
  {
    for (int s = 0; s < steps; s++) {
#pragma omp target teams distribute parallel for thread_limit(64)
      for (int i = 0; i < n; i++) {
        float ax = 0.0f, ay = 0.0f, az = 0.0f;
        for (int j = 0; j < n; j++) {
          const float dx = pos[3 * j] - pos[3 * i];
          const float dy = pos[3 * j + 1] - pos[3 * i + 1];
          const float dz = pos[3 * j + 2] - pos[3 * i + 2];
          const float eps2 = softening * softening;
          const float r2 = dx * dx + dy * dy + dz * dz + eps2;
          const float r3 = pow(r2, 1.5);
          ax += mass[j] * dx / r3;
          ay += mass[j] * dy / r3;
          az += mass[j] * dz / r3;
        }
        acc[3 * i] = ax;
        acc[3 * i + 1] = ay;
        acc[3 * i + 2] = az;
      }

#pragma omp target teams distribute parallel for thread_limit(64)
      for (int i = 0; i < n; i++) {
        for (int d = 0; d < 3; d++) {
          vel[3 * i + d] += acc[3 * i + d] * dt;
          pos[3 * i + d] += vel[3 * i + d] * dt;
        }
      }
    }
  }

  std::free(acc);
}
