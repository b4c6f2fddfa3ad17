"""Reading the judge's answer: exactly one JSON verdict, or None with a reason for the retry."""

from __future__ import annotations

import pytest

from lassi_hpc.records import JudgeDecision, JudgeVerdict
from lassi_hpc.stages.judge import judge_problem, parse_judge_answer


@pytest.mark.parametrize(
    ("answer", "decision"),
    [
        ('{"verdict": "valid", "reason": "fused loops"}', JudgeDecision.VALID),
        ('{"verdict": "INVALID", "reason": "fused loops"}', JudgeDecision.INVALID),
        ('{"verdict": " Valid ", "reason": "fused loops"}', JudgeDecision.VALID),
        ('```json\n{"verdict": "invalid", "reason": "fused loops"}\n```', JudgeDecision.INVALID),
        (
            '<think>Is {"verdict": "valid"} right? No.</think>\n'
            '{"verdict": "invalid", "reason": "fused loops"}',
            JudgeDecision.INVALID,
        ),
        ('Here.\n{"reason": "fused loops", "verdict": "valid"}\nThanks.', JudgeDecision.VALID),
    ],
)  # fmt: skip
def test_one_json_verdict_is_read(answer: str, decision: JudgeDecision) -> None:
    assert parse_judge_answer(answer) == JudgeVerdict(decision, "fused loops")
    assert judge_problem(answer) == ""


def test_braces_inside_the_reason_do_not_confuse_the_reader() -> None:
    answer = '{"verdict": "invalid", "reason": "prints {42} without computing it"}'
    verdict = parse_judge_answer(answer)
    assert verdict == JudgeVerdict(JudgeDecision.INVALID, "prints {42} without computing it")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "the answer is empty"),
        ("<think>hmm", "the answer holds only an unclosed thinking section"),
        ("VALID", "no JSON object found"),
        ("The change is not valid.", "no JSON object found"),
        ("{'verdict': 'valid', 'reason': 'x'}", "no valid JSON object found (Expecting property"),
        (
            '{"verdict": "valid", "reason": "a"}\n{"verdict": "invalid", "reason": "b"}',
            "2 JSON objects found; give exactly one",
        ),
        ('{"verdict": "valid"}', "the JSON object lacks the key(s): reason"),
        (
            '{"verdict": "valid", "reason": "x", "confidence": 0.9}',
            "the JSON object has unexpected key(s): confidence; use only verdict, reason",
        ),
        ('{"verdict": "probably valid", "reason": "x"}', '"verdict" must be "valid" or "invalid"'),
        ('{"verdict": true, "reason": "x"}', '"verdict" must be "valid" or "invalid", got True'),
        ('{"verdict": "valid", "reason": ["x"]}', '"reason" must be a string, got list'),
        ('["valid", "x"]', "no JSON object found"),
    ],
)
def test_anything_else_is_unreadable_and_says_why(answer: str, problem: str) -> None:
    assert parse_judge_answer(answer) is None
    assert judge_problem(answer).startswith(problem)
