"""
HTML representations for notebooks (SPEC §15.1).
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

import missionkit as mk
from fakes import SwitchProposer
from missionkit.testing import FakeClock

EVIL = "<script>alert('x')</script>"
FORBIDDEN = ["<script", "<style", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"]


def reading(value: Any) -> dict[str, Any]:
    return {"metrics": {"n": value}}


def start(mission: mk.Mission, **overrides: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "Reach n of three",
        "criteria": [
            {
                "criterion_id": "n_big",
                "kind": "metric_threshold",
                "required": True,
                "metric": "metrics.n",
                "op": ">=",
                "target": 3,
            },
            {"criterion_id": "seen", "kind": "event", "required": False, "event_name": "x"},
        ],
        "budget": {"max_iterations": 9, "max_wall_clock_seconds": 600},
        "tool_allowlist": ["probe"],
        "session_id": "mission-html",
    }
    spec.update(overrides)
    return mission.start(**spec)


def mission_with(values: list[Any], step: float = 1, **kwargs: Any) -> mk.Mission:
    queue = iter(values)

    def probe() -> dict[str, Any]:
        return reading(next(queue))

    return mk.Mission(tools=[probe], clock=FakeClock(step=step), **kwargs)


def text_of(markup: str) -> str:
    """
    The visible text of *markup*: cells and blocks separated by one ``|``, entities decoded.
    """
    return html.unescape(re.sub(r"(?:<[^>]+>)+", "|", markup))


def assert_self_contained(markup: str) -> None:
    lowered = markup.lower()
    assert [] == [token for token in FORBIDDEN if token in lowered]
    assert "style=" in markup


class TestSessionHtml:
    def test_shows_the_header(self) -> None:
        """The session HTML shows id, status, directive, budgets, counter and latest verdict."""
        session = start(mission_with([1, 2]))
        session.step()
        session.step()

        shown = text_of(session._repr_html_())

        for fragment in [
            "mission-html",
            "running",
            "Reach n of three",
            "2 / 9",
            "/ 600",
            "0 / 3",
            "continue",
            "in_progress",
            "n_big",
            "metric_threshold",
            "seen",
            "event",
        ]:
            assert fragment in shown

    def test_active_seconds_as_of_now(self) -> None:
        """Active seconds are computed at the clock's current time."""
        clock = FakeClock()

        def probe() -> dict[str, Any]:
            return reading(1)

        session = start(mk.Mission(tools=[probe], clock=clock))
        session.step()
        clock.advance(42)

        assert "|42.0 / 600|" in text_of(session._repr_html_())

    def test_latest_status_and_evidence(self) -> None:
        """The criteria table shows the latest evaluated status and its evidence."""
        session = start(mission_with([1, 2]))
        session.step()
        session.step()

        shown = text_of(session._repr_html_())

        assert "|n_big|metric_threshold|yes|unmet|2|" in shown
        assert "|seen|event|no|unmet|null|" in shown

    def test_fresh_session(self) -> None:
        """A session without iterations renders with no verdict and unknown statuses."""
        session = start(
            mission_with([]), budget={"max_iterations": -1, "max_wall_clock_seconds": -1}
        )

        markup = session._repr_html_()

        assert "0 / uncapped" in markup
        assert "0.0 / uncapped" in markup
        assert_self_contained(markup)

    def test_escapes_user_strings(self) -> None:
        """Directive, criterion ids and evidence are escaped; no markup gets through."""
        session = start(
            mission_with([EVIL]),
            directive=EVIL,
            criteria=[
                {
                    "criterion_id": "<b>bold</b>",
                    "kind": "metric_threshold",
                    "required": True,
                    "metric": "metrics.n",
                    "op": ">=",
                    "target": 3,
                }
            ],
        )
        session.step()

        markup = session._repr_html_()

        assert_self_contained(markup)
        assert "<b>" not in markup
        assert "&lt;b&gt;bold&lt;/b&gt;" in markup
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in markup

    def test_directive_is_cut_at_240(self) -> None:
        """Only the first 240 characters of the directive are shown."""
        directive = "a" * 240 + "b" * 60
        session = start(mission_with([]), directive=directive)

        shown = text_of(session._repr_html_())

        assert "|" + "a" * 240 + "…|" in shown
        assert "ab" not in shown

    def test_evidence_preview_at_most_80(self) -> None:
        """Evidence previews are at most 80 characters."""
        session = start(mission_with(["y" * 500]))
        session.step()

        shown = text_of(session._repr_html_())

        assert '"' + "y" * 78 + "…" in shown
        assert "y" * 79 not in shown

    def test_deterministic(self) -> None:
        """The same state renders to the same HTML, across handles and missions."""
        first = start(mission_with([1, 2], step=0))
        second = start(mission_with([1, 2], step=0))
        for session in (first, second):
            session.step()
            session.step()

        assert first._repr_html_() == first._repr_html_() == second._repr_html_()


class TestReportHtml:
    def test_completed_report(self) -> None:
        """The report HTML shows verdict, lessons, follow-ups and both tables."""
        session = start(mission_with([1, 2, 3]))
        report = session.run()
        assert report is not None

        markup = report._repr_html_()
        shown = text_of(markup)

        assert_self_contained(markup)
        for fragment in [
            "completed",
            "criteria_met",
            "Session mission-html ended with verdict",
            "Persist or publish the artefacts produced by the final iteration.",
            "These suggestions come from fixed templates.",
            "|n_big|metric_threshold|yes|met|3|",
        ]:
            assert fragment in shown
        assert 3 == shown.count("|succeeded|")
        for it in report.iterations:
            seconds = (it.ended_at - it.started_at).total_seconds()
            assert f"|{it.iteration_index}|succeeded|" in shown
            assert f"|{seconds:.3f} s|" in shown

    def test_failed_report(self) -> None:
        """A failed report shows the failing phase and its error, escaped."""
        proposer = SwitchProposer()
        proposer.armed = True
        session = start(mission_with([], proposer=proposer), directive=EVIL)
        with pytest.raises(ZeroDivisionError):
            session.step()
        report = session.report()
        assert report is not None

        markup = report._repr_html_()

        assert_self_contained(markup)
        assert "propose" in markup
        assert "ZeroDivisionError: division by zero" in markup
        assert "not evaluated" in markup

    def test_deterministic(self) -> None:
        """A report renders identically every time and after a JSON round trip."""
        report = start(mission_with([1, 2, 3])).run()
        assert report is not None

        assert report._repr_html_() == mk.FinalReport.from_dict(report.to_dict())._repr_html_()


class TestIterationHtml:
    def test_shows_calls_and_results(self) -> None:
        """The iteration HTML shows status, verdict, calls and criterion results."""
        session = start(mission_with([EVIL]))
        iteration = session.step()

        markup = iteration._repr_html_()
        shown = text_of(markup)

        assert_self_contained(markup)
        for fragment in ["iteration 0", "succeeded", "continue", "probe", "ok", "n_big"]:
            assert fragment in shown
        assert "&lt;script&gt;" in markup

    def test_rationale_is_escaped(self) -> None:
        """An adjust iteration shows its rationale."""
        session = start(mission_with([1, 1, 1, 1]))
        iterations = [session.step() for _ in range(3)]

        markup = iterations[-1]._repr_html_()

        assert "adjust" == iterations[-1].verdict
        assert "adjust at iteration 3" in markup
        assert iterations[-1]._repr_html_() == markup
