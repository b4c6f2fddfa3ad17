"""Test tools that stand in for vendor software at its seam, named as fakes.

`ScriptedLLM` is a fake OpenAI-compatible LLM server on loopback that plays scripted answers
(see lassi_hpc.testing.scripted_llm); `python -m lassi_hpc.testing.serve_scripted` runs one as a
fake server binary. `synthetic_campaign.write_synthetic_campaign` writes a seeded, clearly
synthetic results file (fake counter devices, flag `synthetic`) for analysis tests and benchmarks.
"""

from lassi_hpc.testing.scripted_llm import Reply, Responder, ScriptedLLM, ScriptedRequest

__all__ = ["Reply", "Responder", "ScriptedLLM", "ScriptedRequest"]
