// heat1d-mpi kernel: halo exchange with the neighbour ranks, then an OpenMP-parallel update.
#include "kernels.h"

#include <utility>

void heat_steps(std::vector<double>& u, int local_n, int steps, double alpha, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int left = rank > 0 ? rank - 1 : MPI_PROC_NULL;
  const int right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
  // A copy, so that the fixed boundary halos are the same in both buffers.
  std::vector<double> next(u);
  for (int t = 0; t < steps; t++) {
    // First interior cell to the left neighbour, its last one into the right halo; then the
    // mirror image. MPI_PROC_NULL leaves a boundary halo untouched.
    MPI_Sendrecv(&u[1], 1, MPI_DOUBLE, left, 0, &u[local_n + 1], 1, MPI_DOUBLE, right, 0, comm,
                 MPI_STATUS_IGNORE);
    MPI_Sendrecv(&u[local_n], 1, MPI_DOUBLE, right, 1, &u[0], 1, MPI_DOUBLE, left, 1, comm,
                 MPI_STATUS_IGNORE);
#pragma omp parallel for schedule(static)
    for (int i = 1; i <= local_n; i++) {
      next[i] = u[i] + alpha * ((u[i - 1] - 2.0 * u[i]) + u[i + 1]);
    }
    std::swap(u, next);
  }
}
