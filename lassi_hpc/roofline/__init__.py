"""Roofline classification: profile GPU kernels (Nsight Compute, rocprof), label them compute- or
bandwidth-bound against the target GPU's balance points, build a dataset of kernel sources, and
measure how well LLMs predict the label. See docs/roofline.md."""
