// nbody: all-pairs gravity in CUDA.

#include <cmath>

#include "kernels.h"

__global__ void compute_accel(int n, float softening, const float* mass, const float* pos,
                              float* acc) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
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

__global__ void integrate(int n, float dt, const float* acc, float* pos, float* vel) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  for (int d = 0; d < 3; d++) {
    vel[3 * i + d] += acc[3 * i + d] * dt;
    pos[3 * i + d] += vel[3 * i + d] * dt;
  }
}

void nbody_run(int n, int steps, float dt, float softening, const float* mass, float* pos,
               float* vel) {
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  float *d_mass, *d_pos, *d_vel, *d_acc;
  CUDA_CHECK(cudaMalloc(&d_mass, bytes));
  CUDA_CHECK(cudaMalloc(&d_pos, 3 * bytes));
  CUDA_CHECK(cudaMalloc(&d_vel, 3 * bytes));
  CUDA_CHECK(cudaMalloc(&d_acc, 3 * bytes));
  CUDA_CHECK(cudaMemcpy(d_mass, mass, bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_pos, pos, 3 * bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_vel, vel, 3 * bytes, cudaMemcpyHostToDevice));

  const int block = 64;
  const int grid = (n + block - 1) / block;
  for (int s = 0; s < steps; s++) {
    compute_accel<<<grid, block>>>(n, softening, d_mass, d_pos, d_acc);
    CUDA_CHECK(cudaGetLastError());
    integrate<<<grid, block>>>(n, dt, d_acc, d_pos, d_vel);
    CUDA_CHECK(cudaGetLastError());
  }

  CUDA_CHECK(cudaMemcpy(pos, d_pos, 3 * bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(vel, d_vel, 3 * bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaFree(d_mass));
  CUDA_CHECK(cudaFree(d_pos));
  CUDA_CHECK(cudaFree(d_vel));
  CUDA_CHECK(cudaFree(d_acc));
}
