"""What only a Slurm site needs: sbatch scripts rendered strictly from templates, site checks."""
