"""Carries stages across machines with Parsl; the only package that imports Parsl."""
