"""lassi_hpc: LLM-driven energy-saving refactoring of parallel scientific codes."""

__version__ = "0.1.0"
