"""Judge answers: read the one JSON verdict the judge prompt asks for, strictly.

The judge (prompt in `lassi_hpc.llm.prompting.judge_prompt`) must answer with exactly one JSON
object {"verdict": "valid" | "invalid", "reason": "..."}, possibly inside a ```json fence and
after thinking sections. Anything else is unreadable: the caller retries once with
`judge_problem`'s explanation, then records the verdict as undecided. There is no substring test:
an answer saying "not valid" must not read as "valid".
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lassi_hpc.records import JudgeDecision, JudgeVerdict
from lassi_hpc.stages.extract import strip_thinking

JUDGE_KEYS = ("verdict", "reason")
_DECISIONS = {"valid": JudgeDecision.VALID, "invalid": JudgeDecision.INVALID}


@dataclass(frozen=True)
class _Reading:
    verdict: JudgeVerdict | None
    problem: str  # "" when verdict is set


def parse_judge_answer(text: str) -> JudgeVerdict | None:
    """The verdict in `text`, or None when it is not exactly one well-formed JSON verdict."""
    return _read(text).verdict


def judge_problem(text: str) -> str:
    """Why `text` is not a readable verdict, in words for the retry prompt; "" when it is one."""
    return _read(text).problem


def _read(text: str) -> _Reading:
    visible, thinking_open = strip_thinking(text)
    if not visible.strip():
        if thinking_open:
            return _Reading(None, "the answer holds only an unclosed thinking section")
        return _Reading(None, "the answer is empty")
    objects, first_error = _json_objects(visible)
    if not objects:
        if first_error:
            return _Reading(None, f"no valid JSON object found ({first_error})")
        return _Reading(None, "no JSON object found")
    if len(objects) > 1:
        return _Reading(None, f"{len(objects)} JSON objects found; give exactly one")
    found = objects[0]
    missing = [key for key in JUDGE_KEYS if key not in found]
    if missing:
        return _Reading(None, f"the JSON object lacks the key(s): {', '.join(missing)}")
    extra = sorted(set(found) - set(JUDGE_KEYS))
    if extra:
        return _Reading(
            None,
            f"the JSON object has unexpected key(s): {', '.join(extra)}; "
            f"use only {', '.join(JUDGE_KEYS)}",
        )
    verdict, reason = found["verdict"], found["reason"]
    decision = _DECISIONS.get(verdict.strip().lower()) if isinstance(verdict, str) else None
    if decision is None:
        return _Reading(None, f'"verdict" must be "valid" or "invalid", got {verdict!r}')
    if not isinstance(reason, str):
        return _Reading(None, f'"reason" must be a string, got {type(reason).__name__}')
    return _Reading(JudgeVerdict(decision, reason.strip()), "")


def _json_objects(text: str) -> tuple[list[dict[str, object]], str]:
    """The top-level JSON objects in `text` (outside each other), and the first decode error.

    Every "{" not inside an object already read is tried as the start of one, so prose and
    ```json fences around the object do not matter.
    """
    decoder = json.JSONDecoder()
    objects: list[dict[str, object]] = []
    first_error = ""
    position = text.find("{")
    while position >= 0:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            first_error = first_error or error.msg
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            objects.append(value)
        position = text.find("{", end)
    return objects, first_error
