// heat1d-mpi: the part of the program a refactoring may change (kernels.cpp).
#pragma once

#include <mpi.h>

#include <vector>

// Advances this rank's block of the rod by `steps` explicit time steps of
//   u[i] <- u[i] + alpha * (u[i-1] - 2 u[i] + u[i+1]).
// `u` holds local_n cells plus one halo cell at each end: u[0] and u[local_n + 1]. Halos facing a
// neighbour rank are refreshed from it before every step (MPI_Sendrecv); halos at the rod's ends
// hold the fixed boundary temperatures and must not change. On return u holds the final values.
void heat_steps(std::vector<double>& u, int local_n, int steps, double alpha, MPI_Comm comm);
