"""
Sampling through a session: fallbacks, audit fields, lessons, and that it never decides.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import missionkit as mk
from missionkit.audit import MemorySink
from missionkit.testing import FakeClock, ScriptedSampler


def tool_a() -> dict[str, Any]:
    """
    Report v = 1.
    """
    return {"metrics": {"v": 1}}


def tool_b(k: int = 2) -> dict[str, Any]:
    """
    Report v = k.
    """
    return {"metrics": {"v": k}}


B_SCHEMA = {
    "type": "object",
    "properties": {"k": {"type": "integer"}},
    "additionalProperties": False,
}
CRITERIA = [
    {
        "criterion_id": "v",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.v",
        "op": ">=",
        "target": 3,
    }
]


def _answer(tool: str, args: dict[str, Any] | None = None, **extra: Any) -> str:
    body = {
        "revision_rationale": f"use {tool}",
        "next_strategy": {"tool_calls": [{"tool_name": tool, "args": args or {}}]},
        "confidence": 0.5,
    }
    body.update(extra)
    return "Here you go: " + json.dumps(body)


def _mission(sampler: Any, sink: MemorySink, **kw: Any) -> mk.Mission:
    return mk.Mission(
        tools={"tool_a": tool_a, "tool_b": mk.Tool(tool_b, input_schema=B_SCHEMA), "ext": None},
        sampler=sampler,
        clock=FakeClock(step=0.5),
        sinks=[sink],
        **kw,
    )


def _start(mission: mk.Mission, **kw: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "Raise v to 3",
        "criteria": CRITERIA,
        "budget": {"max_iterations": 6, "max_wall_clock_seconds": -1},
        "tool_allowlist": ["tool_a", "tool_b"],
        "use_sampling": "every_iteration",
        "session_id": "s-1",
    }
    spec.update(kw)
    return mission.start(**spec)


def _sampling_events(sink: MemorySink) -> list[dict[str, Any]]:
    return [e.to_dict() for e in sink.events if e.event_type == "mission_sampling_event"]


class TestFallbacks:
    def _one(self, response: str | BaseException) -> tuple[mk.Iteration, dict[str, Any]]:
        sink = MemorySink()
        session = _start(_mission(ScriptedSampler(response), sink))
        iteration = session.step()
        return iteration, _sampling_events(sink)[0]

    def test_used(self) -> None:
        """
        A valid answer drives the strategy; the event carries the output size.
        """
        text = _answer("tool_b", {"k": 3})
        iteration, event = self._one(text)

        assert ("sampler", "used", None) == (
            iteration.strategy_source,
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
        )
        assert "use tool_b" == iteration.sampling_rationale
        assert text == iteration.sampling_output
        assert {
            "event_type": "mission_sampling_event",
            "mission_session_id": "s-1",
            "sampling_purpose": "strategy_revision",
            "sampling_status": "used",
            "sampling_backend": "scripted",
            "timestamp": event["timestamp"],
            "iteration_index": 0,
            "sampling_model_id": "scripted",
            "model_output_bytes": len(text.encode()),
        } == event

    def test_rejections(self) -> None:
        """
        Every rejection reason of SPEC §8.7 falls back to the default proposer.
        """
        cases = {
            "json_parse": "no json here",
            "schema_mismatch": json.dumps({"next_strategy": {}}),
            "tool_not_allowlisted": _answer("ext"),
            "tool_args_invalid": _answer("tool_b", {"k": "three"}),
            "scripts_not_allowed_by_session": json.dumps(
                {"revision_rationale": "r", "next_strategy": {"script": "x = 1"}, "confidence": 1}
            ),
        }
        for reason, response in cases.items():
            iteration, event = self._one(response)
            assert ("default", "rejected", reason) == (
                iteration.strategy_source,
                iteration.sampling_status,
                iteration.sampling_rejection_reason,
            ), reason
            assert reason == event["validation_error"]
            assert "model_output_bytes" not in event

    def test_transport_error(self) -> None:
        """
        A raising sampler is a transport error whose audit text is the exception text.
        """
        iteration, event = self._one(ConnectionError("model down"))

        assert ("rejected", "transport_error") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
        )
        assert "ConnectionError: model down" == event["validation_error"]
        assert iteration.sampling_output is None

    def test_disabled_without_sampler(self) -> None:
        """
        A session that asked for sampling, reopened by a Mission without one, records disabled.
        """
        sink = MemorySink()
        store = mk.Mission().store
        _start(_mission(ScriptedSampler(), sink, store=store))
        bare = mk.Mission(tools={"tool_a": tool_a, "tool_b": tool_b}, store=store, sinks=[sink])

        iteration = bare.session("s-1").step()

        assert ("disabled", "no_backend_resolved") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
        )
        assert {"sampling_backend": "none", "validation_error": "no_backend_resolved"}.items() <= (
            _sampling_events(sink)[-1].items()
        )

    def test_huge_output_is_capped_in_the_record(self) -> None:
        """
        A 10 MB answer is a recorded fallback with the stored output truncated.
        """
        iteration, _ = self._one("x" * 10_000_000)

        assert "json_parse" == iteration.sampling_rejection_reason
        assert isinstance(iteration.sampling_output, dict)
        assert iteration.sampling_output["_truncated"] is True


class TestLessons:
    def test_sampler_lessons_overlay_the_report(self) -> None:
        """
        A used final_lessons answer replaces the templates; its event has no index.
        """
        sink = MemorySink()
        lessons = json.dumps({"lessons": ["L1", "L2"], "recommended_followups": ["F1"]})
        session = _start(
            _mission(ScriptedSampler(_answer("tool_b", {"k": 3}), lessons), sink),
        )

        report = session.run()

        assert report is not None
        assert ("L1\n\nL2", ("F1",), "sampler") == (
            report.lessons,
            report.recommended_followups,
            report.lessons_source,
        )
        last = _sampling_events(sink)[-1]
        assert "final_lessons" == last["sampling_purpose"]
        assert "iteration_index" not in last
        assert "sampling_context" not in last

    def test_failed_lessons_keep_templates(self) -> None:
        """
        Any non-used lessons outcome keeps the template text.
        """
        sink = MemorySink()
        session = _start(_mission(ScriptedSampler(_answer("tool_b", {"k": 3}), "nope"), sink))

        report = session.run()

        assert report is not None
        assert "template" == report.lessons_source


@st.composite
def _responses(draw: st.DrawFn) -> list[str]:
    pieces = st.one_of(
        st.builds(lambda k: _answer("tool_b", {"k": k}), st.integers(0, 5)),
        st.just(_answer("tool_a")),
        st.just("garbage"),
        st.just(_answer("ext")),
        st.text(max_size=30),
    )
    return draw(st.lists(pieces, min_size=8, max_size=8))


class TestAdvisoryOnly:
    @settings(max_examples=25, deadline=None)
    @given(responses=_responses())
    def test_verdicts_do_not_depend_on_sampling(self, responses: list[str]) -> None:
        """
        Replaying the executed strategies without a sampler gives the same verdicts and results.
        """
        sink = MemorySink()
        sampled = _start(_mission(ScriptedSampler(*responses), sink), stagnation_threshold=2)
        sampled.run()
        executed = [it.strategy for it in sampled.state.iterations]

        replay = mk.Mission(
            tools={"tool_a": tool_a, "tool_b": tool_b},
            proposer=lambda ctx: executed[ctx.iteration_index],
            clock=FakeClock(step=0.5),
        )
        plain = _start(replay, use_sampling=False, stagnation_threshold=2)
        plain.run()

        def decisions(session: mk.Session) -> list[Any]:
            return [
                (
                    it.verdict,
                    it.verdict_reason,
                    it.no_progress_counter,
                    it.progress,
                    [(r.criterion_id, r.status, r.evidence) for r in it.criteria_evaluation],
                )
                for it in session.state.iterations
            ]

        assert decisions(sampled) == decisions(plain)
