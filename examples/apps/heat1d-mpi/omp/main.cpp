// heat1d-mpi: explicit 1-D heat equation on a rod of n cells, split over MPI ranks (MPI + OpenMP).
//
// Usage: mpiexec -n <ranks> ./main <cells> <steps> <alpha>
//
// The rod's left end is held at 1, its right end at 0; cell g starts from a deterministic
// pseudo-random value in [0, 1) that depends only on g, so the result does not depend on the
// number of ranks or threads. Each rank owns a contiguous block of cells (the first n % ranks
// ranks one cell more) and heat_steps() (kernels.cpp) advances it. Rank 0 then gathers the whole
// rod in rank order and sums it in cell order, so the printed checksums are the same on every run
// with the same arguments. It also recomputes three blocks of cells on its own (next to each end
// and at the first rank boundary) and prints PASS or FAIL.
//
// This file is not part of what a refactoring may change.

#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels.h"

namespace {

constexpr uint64_t kSeed = 0x5eed1d2024ull;
constexpr int kSamples = 16;     // cell values printed on stdout
constexpr int kCheckBlock = 32;  // cells in each block recomputed by rank 0
constexpr double kCheckTol = 1e-9;
constexpr double kLeftEnd = 1.0;
constexpr double kRightEnd = 0.0;

bool parse_int(const char* s, long lo, long hi, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parse_alpha(const char* s, double* out) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  // alpha <= 0.5 keeps the explicit scheme stable.
  if (end == s || *end != '\0' || !std::isfinite(v) || v <= 0.0 || v > 0.5) return false;
  *out = v;
  return true;
}

// splitmix64 of the cell index: the initial value of a cell, whatever rank owns it.
double initial_value(long g) {
  uint64_t z = kSeed + static_cast<uint64_t>(g) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
}

// One thread per core of this node's share unless OMP_NUM_THREADS says otherwise: ranks on one
// node must not each start a thread per core.
void choose_threads(MPI_Comm world) {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  MPI_Comm node;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local_ranks = 1;
  MPI_Comm_size(node, &local_ranks);
  MPI_Comm_free(&node);
  omp_set_num_threads(std::max(1, omp_get_num_procs() / local_ranks));
}

// Cells [c0, c0 + side) after `steps` steps, computed serially from a window around them: a cell
// depends only on cells at most `steps` away, so the window's cut edges (held at their initial
// values) cannot reach the block. Indices are of the rod with its two fixed ends: 0 and n + 1.
std::vector<double> reference_block(long n, int steps, double alpha, long c0, int side) {
  const long lo = std::max(0L, c0 - steps - 1);
  const long hi = std::min(n + 2, c0 + side + steps + 1);
  std::vector<double> a(static_cast<size_t>(hi - lo));
  for (long k = lo; k < hi; k++) {
    double v = k == 0 ? kLeftEnd : k == n + 1 ? kRightEnd : initial_value(k - 1);
    a[static_cast<size_t>(k - lo)] = v;
  }
  std::vector<double> b = a;
  for (int t = 0; t < steps; t++) {
    for (size_t i = 1; i + 1 < a.size(); i++) {
      b[i] = a[i] + alpha * ((a[i - 1] - 2.0 * a[i]) + a[i + 1]);
    }
    std::swap(a, b);
  }
  return std::vector<double>(a.begin() + (c0 - lo), a.begin() + (c0 - lo) + side);
}

// Largest |got - reference| over the block of rod cells [c0, c0 + side) (1-based, as above).
double block_error(long n, int steps, double alpha, const std::vector<double>& rod, long c0,
                   int side) {
  const std::vector<double> ref = reference_block(n, steps, alpha, c0, side);
  double worst = 0.0;
  for (int i = 0; i < side; i++) {
    const double d = std::fabs(rod[static_cast<size_t>(c0 - 1 + i)] - ref[static_cast<size_t>(i)]);
    if (!(d <= worst)) worst = d;  // a NaN sticks
  }
  return worst;
}

void report(long n, int steps, double alpha, const std::vector<double>& rod, long first_boundary,
            double elapsed_s) {
  double sum = 0.0, weighted = 0.0, lo = rod[0], hi = rod[0];
  for (long g = 0; g < n; g++) {
    const double v = rod[static_cast<size_t>(g)];
    sum += v;
    weighted += static_cast<double>(g + 1) * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::printf("heat1d: %ld cells, %d steps, alpha %.6f\n", n, steps, alpha);
  std::printf("checksum %.15e\n", sum);
  std::printf("weighted %.15e\n", weighted / static_cast<double>(n));
  std::printf("min %.15e max %.15e\n", lo, hi);
  for (int s = 0; s < kSamples; s++) {
    const long g = (n - 1) * s / (kSamples - 1);
    std::printf("cell %ld %.15e\n", g, rod[static_cast<size_t>(g)]);
  }
  std::printf("time %.6f s\n", elapsed_s);

  const int side = static_cast<int>(std::min<long>(kCheckBlock, n));
  const long centre = std::clamp(first_boundary - side / 2, 1L, n - side + 1);
  const long starts[] = {1, centre, n - side + 1};
  double worst = 0.0;
  for (long c0 : starts) {
    const double e = block_error(n, steps, alpha, rod, c0, side);
    if (!(e <= worst)) worst = e;
  }
  const bool bounded = lo >= -kCheckTol && hi <= 1.0 + kCheckTol;
  std::printf("%s\n", worst <= kCheckTol && bounded ? "PASS" : "FAIL");
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);

  int n = 0, steps = 0;
  double alpha = 0.0;
  const bool ok = argc == 4 && parse_int(argv[1], size, 100000000, &n) &&
                  parse_int(argv[2], 1, 1000000, &steps) && parse_alpha(argv[3], &alpha);
  if (!ok) {
    if (rank == 0) {
      std::fprintf(stderr,
                   "usage: mpiexec -n <ranks> %s <cells: ranks..1e8> <steps: 1..1e6> "
                   "<alpha: (0, 0.5]>\n",
                   argv[0]);
    }
    MPI_Finalize();
    return 1;
  }
  choose_threads(world);

  // Block decomposition: the first n % size ranks own one cell more.
  std::vector<int> counts(static_cast<size_t>(size)), offsets(static_cast<size_t>(size));
  for (int r = 0, offset = 0; r < size; r++) {
    counts[static_cast<size_t>(r)] = n / size + (r < n % size ? 1 : 0);
    offsets[static_cast<size_t>(r)] = offset;
    offset += counts[static_cast<size_t>(r)];
  }
  const int local_n = counts[static_cast<size_t>(rank)];
  const int offset = offsets[static_cast<size_t>(rank)];
  std::vector<double> u(static_cast<size_t>(local_n) + 2, 0.0);
  for (int i = 0; i < local_n; i++) u[static_cast<size_t>(i) + 1] = initial_value(offset + i);
  if (rank == 0) u[0] = kLeftEnd;
  if (rank == size - 1) u[static_cast<size_t>(local_n) + 1] = kRightEnd;

  MPI_Barrier(world);
  const double start_s = MPI_Wtime();
  heat_steps(u, local_n, steps, alpha, world);
  double elapsed_s = MPI_Wtime() - start_s, longest_s = 0.0;
  MPI_Reduce(&elapsed_s, &longest_s, 1, MPI_DOUBLE, MPI_MAX, 0, world);

  // Rank order, then one serial pass in cell order: the checksums never depend on timing.
  std::vector<double> rod(rank == 0 ? static_cast<size_t>(n) : 0);
  MPI_Gatherv(u.data() + 1, local_n, MPI_DOUBLE, rod.data(), counts.data(), offsets.data(),
              MPI_DOUBLE, 0, world);
  if (rank == 0) {
    std::fprintf(stderr, "ranks %d, threads per rank %d\n", size, omp_get_max_threads());
    const long first_boundary = size > 1 ? offsets[1] + 1 : n / 2 + 1;
    report(n, steps, alpha, rod, first_boundary, longest_s);
  }
  MPI_Finalize();
  return 0;
}
