// nbody: all-pairs gravitational n-body with Plummer softening, symplectic Euler steps
// (OpenMP target offload variant).
//
// Usage: ./main <n> <steps>
//
// Bodies start uniformly in the cube [-1, 1]^3 with masses in [0.5, 1.5) / n, small random
// velocities and zero total momentum (G = 1, dt and softening fixed below).
//
// This file sets up the input, times nbody_run() (kernels.cpp), prints the results and checks
// conservation of momentum and energy. It is not part of what a refactoring may change.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels.h"

namespace {

constexpr uint32_t kSeed = 4242u;
constexpr float kDt = 0.001f;
constexpr float kSoftening = 0.05f;
constexpr float kSpeed = 0.3f;     // initial velocity components lie in [-kSpeed, kSpeed)
constexpr int kPrinted = 8;        // bodies printed on stdout
constexpr double kMomentumTol = 1e-6;       // relative to sum of m |v|
constexpr double kMinKineticChange = 1e-5;  // relative to the initial kinetic energy
constexpr double kEnergyTol = 1e-2;         // relative to the change of kinetic energy

void usage(const char* prog) {
  std::fprintf(stderr, "usage: %s <n: 2..200000> <steps: 1..100000>\n", prog);
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
  float uniform() { return static_cast<float>(next() >> 8) * (1.0f / 16777216.0f); }  // [0, 1)
};

struct Totals {
  double kinetic, potential, energy, px, py, pz, abs_momentum;
};

// Energies and momentum in double precision. The kernels' step is a leapfrog whose velocities lie
// half a step behind the positions, so the kinetic energy uses the velocities moved to the
// positions' time, v + a dt / 2, with accelerations recomputed here; the potential is the softened
// (Plummer) one that matches the force law. The total energy then drifts only at O(dt^2).
Totals totals(int n, const std::vector<float>& mass, const std::vector<float>& pos,
              const std::vector<float>& vel) {
  Totals t{0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const double eps2 = static_cast<double>(kSoftening) * kSoftening;
  std::vector<double> acc(3 * static_cast<size_t>(n), 0.0);
  for (int i = 0; i < n; i++) {
    for (int j = i + 1; j < n; j++) {
      const double dx = static_cast<double>(pos[3 * j]) - pos[3 * i];
      const double dy = static_cast<double>(pos[3 * j + 1]) - pos[3 * i + 1];
      const double dz = static_cast<double>(pos[3 * j + 2]) - pos[3 * i + 2];
      const double inv_r = 1.0 / std::sqrt(dx * dx + dy * dy + dz * dz + eps2);
      const double inv_r3 = inv_r * inv_r * inv_r;
      t.potential -= static_cast<double>(mass[i]) * mass[j] * inv_r;
      acc[3 * i] += mass[j] * dx * inv_r3;
      acc[3 * i + 1] += mass[j] * dy * inv_r3;
      acc[3 * i + 2] += mass[j] * dz * inv_r3;
      acc[3 * j] -= mass[i] * dx * inv_r3;
      acc[3 * j + 1] -= mass[i] * dy * inv_r3;
      acc[3 * j + 2] -= mass[i] * dz * inv_r3;
    }
  }
  double synced_kinetic = 0.0;
  for (int i = 0; i < n; i++) {
    const double m = mass[i], vx = vel[3 * i], vy = vel[3 * i + 1], vz = vel[3 * i + 2];
    t.kinetic += 0.5 * m * (vx * vx + vy * vy + vz * vz);
    t.px += m * vx;
    t.py += m * vy;
    t.pz += m * vz;
    t.abs_momentum += m * std::sqrt(vx * vx + vy * vy + vz * vz);
    const double half_dt = 0.5 * kDt;
    const double sx = vx + acc[3 * i] * half_dt, sy = vy + acc[3 * i + 1] * half_dt,
                 sz = vz + acc[3 * i + 2] * half_dt;
    synced_kinetic += 0.5 * m * (sx * sx + sy * sy + sz * sz);
  }
  t.energy = synced_kinetic + t.potential;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 0, steps = 0;
  if (argc != 3 || !parse_int(argv[1], 2, 200000, &n) || !parse_int(argv[2], 1, 100000, &steps)) {
    usage(argv[0]);
    return 2;
  }

  std::vector<float> mass(n), pos(3 * static_cast<size_t>(n)), vel(3 * static_cast<size_t>(n));
  Lcg rng(kSeed);
  for (int i = 0; i < n; i++) {
    mass[i] = (0.5f + rng.uniform()) / static_cast<float>(n);
    for (int d = 0; d < 3; d++) pos[3 * i + d] = 2.0f * rng.uniform() - 1.0f;
    for (int d = 0; d < 3; d++) vel[3 * i + d] = kSpeed * (2.0f * rng.uniform() - 1.0f);
  }
  double total_mass = 0.0, mom[3] = {0.0, 0.0, 0.0};
  for (int i = 0; i < n; i++) {
    total_mass += mass[i];
    for (int d = 0; d < 3; d++) mom[d] += static_cast<double>(mass[i]) * vel[3 * i + d];
  }
  for (int i = 0; i < n; i++)
    for (int d = 0; d < 3; d++) vel[3 * i + d] -= static_cast<float>(mom[d] / total_mass);
  const Totals before = totals(n, mass, pos, vel);

  // Start the offload runtime outside the timed region.
#pragma omp target
  {
  }

  const auto start = std::chrono::steady_clock::now();
  nbody_run(n, steps, kDt, kSoftening, mass.data(), pos.data(), vel.data());
  const auto stop = std::chrono::steady_clock::now();
  const double time_ms = std::chrono::duration<double, std::milli>(stop - start).count();

  const Totals after = totals(n, mass, pos, vel);
  const double energy_before = before.energy;
  const double energy_after = after.energy;

  std::printf("bodies: %d\n", n);
  std::printf("steps: %d\n", steps);
  std::printf("kinetic energy: %.9e\n", after.kinetic);
  std::printf("potential energy: %.9e\n", after.potential);
  std::printf("total energy: %.9e\n", energy_after);
  std::printf("initial total energy: %.9e\n", energy_before);
  for (int k = 0; k < kPrinted; k++) {
    const int i = static_cast<int>(static_cast<long>(k) * (n - 1) / (kPrinted - 1));
    std::printf("pos[%d]: %.9e %.9e %.9e\n", i, pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
    std::printf("vel[%d]: %.9e %.9e %.9e\n", i, vel[3 * i], vel[3 * i + 1], vel[3 * i + 2]);
  }
  std::printf("time: %.3f ms\n", time_ms);

  // Checks: total momentum is conserved; the kinetic energy changed (the bodies moved under
  // gravity) and the total energy is conserved to a small fraction of that change.
  const double dp = std::sqrt((after.px - before.px) * (after.px - before.px) +
                              (after.py - before.py) * (after.py - before.py) +
                              (after.pz - before.pz) * (after.pz - before.pz));
  const double dke = std::fabs(after.kinetic - before.kinetic);
  const double de = std::fabs(energy_after - energy_before);
  bool ok = std::isfinite(energy_after) && dp <= kMomentumTol * before.abs_momentum &&
            dke > kMinKineticChange * before.kinetic && de <= kEnergyTol * dke;
  if (!ok) {
    std::fprintf(stderr,
                 "momentum change %g (scale %g), kinetic energy change %g (of %g), "
                 "energy change %g\n",
                 dp, before.abs_momentum, dke, before.kinetic, de);
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
