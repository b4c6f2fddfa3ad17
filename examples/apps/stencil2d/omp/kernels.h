// stencil2d: the entry point of the part a refactoring may change (kernels.cpp).
#pragma once

// Runs up to max_iters Jacobi sweeps (each cell becomes the mean of itself and its 4 neighbours)
// over the n x n row-major grid `in` (edges held fixed) and stops after the first sweep whose
// largest absolute change is below tol. Writes the final grid to `out` (n * n floats) and that
// last sweep's largest change to *residual. Returns the number of sweeps done.
int stencil_run(int n, int max_iters, float tol, const float* in, float* out, float* residual);
