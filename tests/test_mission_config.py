"""
Mission construction (SPEC §2.3, §2.5, §4.13) and the order of Mission.start checks (§4.12).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from missionkit import (
    MISSION_CONTROL_TOOLS,
    Budget,
    Cadence,
    EventCriterion,
    Limits,
    Mission,
    MissionValidationError,
    Tool,
)
from missionkit.store import MemoryStore
from missionkit.testing import FakeClock, ScriptedSampler


def probe(x: int = 0) -> dict[str, Any]:
    """
    Probe the system.

    Returns metrics.
    """
    return {"metrics": {"x": x}}


def quiet() -> None:
    return None


def mission_status() -> None:
    return None


def sink(event: Any) -> None:
    return None


CRITERIA = [{"criterion_id": "c", "kind": "event", "required": True, "event_name": "done"}]
BUDGET = {"max_iterations": 3, "max_wall_clock_seconds": -1}


def details_of(call: Any) -> dict[str, Any]:
    with pytest.raises(MissionValidationError) as info:
        call()
    assert "validation_error" == info.value.code
    return info.value.details


def build(**kwargs: Any) -> dict[str, Any]:
    return details_of(lambda: Mission(**kwargs))


# --------------------------------------------------------------------------- constructor


class TestConstructorChecks:
    @pytest.mark.parametrize("tools", [42, "probe", b"probe", None, 1.5])
    def test_tools_not_mapping_or_iterable(self, tools: Any) -> None:
        """tools must be a mapping or a non-str iterable."""
        assert {"field": "tools", "reason": "invalid_value"} == build(tools=tools)

    @pytest.mark.parametrize(
        ("tools", "index"),
        [
            ([functools.partial(probe)], 0),
            ([probe, 42], 1),
            ([probe, None], 1),
            ([Tool(None)], 0),
            ([Tool(probe, name="")], 0),
            ({"": probe}, 0),
            ({"probe": probe, 7: quiet}, 1),
        ],
    )
    def test_unnamed_tool(self, tools: Any, index: int) -> None:
        """A tool without a usable name is reported by its index."""
        assert {
            "field": "tools",
            "index": index,
            "reason": "tool_name_missing_or_invalid",
        } == build(tools=tools)

    @pytest.mark.parametrize(
        ("tools", "name"),
        [({"t": 42}, "t"), ({"t": "probe"}, "t"), ([Tool(42, name="t")], "t")],  # type: ignore[arg-type]
    )
    def test_not_callable(self, tools: Any, name: str) -> None:
        """A named value that is neither callable, a Tool nor None (mapping form) is rejected."""
        assert {"field": "tools", "tool_name": name, "reason": "not_callable"} == build(tools=tools)

    @pytest.mark.parametrize(
        "tools",
        [[probe, probe], [probe, Tool(probe)], [Tool(quiet, name="probe"), probe]],
    )
    def test_duplicate_name(self, tools: Any) -> None:
        """A name registered twice is rejected."""
        assert {"field": "tools", "tool_name": "probe", "reason": "duplicate_tool_name"} == build(
            tools=tools
        )

    def test_mapping_key_must_match_tool_name(self) -> None:
        """A mapping key that differs from its Tool's name is invalid."""
        assert {"field": "tools", "tool_name": "alias", "reason": "invalid_value"} == build(
            tools={"alias": Tool(probe)}
        )

    def test_input_schema_not_a_dict(self) -> None:
        """A Tool whose input_schema is not a dict is rejected."""
        assert {
            "field": "tools",
            "tool_name": "probe",
            "reason": "input_schema_not_a_dict",
        } == build(
            tools=[Tool(probe, input_schema=["x"])]  # type: ignore[arg-type]
        )

    @pytest.mark.parametrize("value", [0, -1, 0.0, math.nan, math.inf, -math.inf, True, "1", [1]])
    def test_tool_timeout_not_positive_finite(self, value: Any) -> None:
        """tool_timeout must be a positive finite number."""
        assert {"field": "tool_timeout", "reason": "must_be_positive_number"} == build(
            tool_timeout=value
        )

    @pytest.mark.parametrize("value", [0, -2.5, math.nan, math.inf, False, "3"])
    def test_per_tool_timeout(self, value: Any) -> None:
        """A Tool.timeout must be a positive finite number; the error names the tool."""
        assert {
            "field": "tool_timeout",
            "tool_name": "probe",
            "reason": "must_be_positive_number",
        } == build(tools=[Tool(probe, timeout=value)])

    @pytest.mark.parametrize("value", [0.001, 1, 30.5])
    def test_valid_timeouts(self, value: float) -> None:
        """Positive finite timeouts are accepted, per mission and per tool."""
        mission = Mission(tools=[Tool(probe, timeout=value)], tool_timeout=value)

        assert value == mission.tools["probe"].timeout

    def test_sink_not_callable(self) -> None:
        """A sink that is not callable is reported by index."""
        assert {"field": "sinks", "index": 1, "reason": "not_callable"} == build(sinks=[sink, 3])

    @pytest.mark.parametrize("name", ["proposer", "sampler", "clock"])
    def test_plugin_not_callable(self, name: str) -> None:
        """proposer, sampler and clock must be callable."""
        assert {"field": name, "reason": "not_callable"} == build(**{name: "nope"})

    @pytest.mark.parametrize("value", ["mission_start", b"x", 5, [1], ["ok", None]])
    def test_control_tools_invalid(self, value: Any) -> None:
        """control_tools must be a collection of str."""
        assert {"field": "control_tools", "reason": "invalid_value"} == build(control_tools=value)

    @pytest.mark.parametrize("value", [[], "x", {"a": 1}, {1: "flag"}])
    def test_flag_lookup_invalid(self, value: Any) -> None:
        """flag_lookup must map str to str."""
        assert {"field": "flag_lookup", "reason": "not_a_dict"} == build(flag_lookup=value)

    def test_external_tools(self) -> None:
        """A mapping value None registers a known but not runnable tool."""
        mission = Mission(tools={"train": None, "probe": probe})

        assert ["train", "probe"] == list(mission.tools)
        assert not mission.tools["train"].runnable
        assert mission.tools["probe"].runnable

    def test_defaults(self) -> None:
        """A bare Mission has no tools, a MemoryStore and default limits."""
        mission = Mission()

        assert {} == dict(mission.tools)
        assert isinstance(mission.store, MemoryStore)

    def test_limits_accepted(self) -> None:
        """A Limits instance is accepted."""
        Mission(limits=Limits(evidence_bytes=10))


class TestTools:
    def test_name_and_description_from_function(self) -> None:
        """Tool names default to __name__ and descriptions to the cleaned docstring."""
        tool = Tool(probe)

        assert "probe" == tool.name
        assert "Probe the system.\n\nReturns metrics." == tool.description
        assert "" == Tool(quiet).description
        assert None is tool.input_schema
        assert None is tool.timeout

    def test_explicit_values_win(self) -> None:
        """Explicit name and description override the defaults."""
        tool = Tool(probe, name="p2", description="d")

        assert ("p2", "d") == (tool.name, tool.description)

    def test_bare_callable_input_schema_attribute(self) -> None:
        """A bare callable's dict input_schema attribute becomes the Tool's schema."""

        def schema_tool(n: int) -> int:
            return n

        schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
        schema_tool.input_schema = schema  # type: ignore[attr-defined]

        mission = Mission(tools=[schema_tool])

        assert schema == mission.tools["schema_tool"].input_schema

    def test_non_dict_input_schema_attribute_is_ignored(self) -> None:
        """A non-dict input_schema attribute on a bare callable is ignored."""

        def odd(n: int) -> int:
            return n

        odd.input_schema = "nope"  # type: ignore[attr-defined]

        assert None is Tool(odd).input_schema

    def test_mapping_names_callables(self) -> None:
        """In mapping form the key names a bare callable."""
        mission = Mission(tools={"renamed": probe})

        assert "renamed" == mission.tools["renamed"].name
        assert probe is mission.tools["renamed"].func

    def test_tools_view_is_read_only(self) -> None:
        """Mission.tools cannot be mutated."""
        mission = Mission(tools=[probe])

        with pytest.raises(TypeError):
            mission.tools["x"] = Tool(quiet)  # type: ignore[index]

    def test_external_tool_by_name(self) -> None:
        """Tool(name=...) without a function is external."""
        tool = Tool(name="remote")

        assert not tool.runnable
        assert "" == tool.description

    def test_repr_shows_counts(self) -> None:
        """repr shows tool and sink counts and the store class only."""
        mission = Mission(tools=[probe, quiet, Tool(name="ext")], sinks=[sink, sink])

        assert "<missionkit.Mission tools=3 sinks=2 store=MemoryStore>" == repr(mission)


# --------------------------------------------------------------------------- start


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "directive": "  Probe it  ",
        "criteria": CRITERIA,
        "budget": BUDGET,
        "tool_allowlist": ["probe"],
    }
    base.update(changes)
    return base


class TestStartOrder:
    def test_check_order(self) -> None:
        """With every input wrong, each fix reveals the next §4.12 check; nothing is written."""
        events: list[Any] = []
        mission = Mission(tools=[probe], sinks=[events.append], clock=FakeClock())
        mission.start(**spec(session_id="taken"))
        events.clear()
        steps: list[tuple[str, Any, Any, dict[str, Any]]] = [
            (
                "session_id",
                "bad id!",
                "taken",
                {"field": "session_id", "reason": "session_id_invalid"},
            ),
            ("directive", 5, "Probe", {"field": "directive", "reason": "not_a_string"}),
            ("criteria", [], CRITERIA, {"field": "criteria", "reason": "empty"}),
            ("tool_allowlist", None, ["probe"], {"field": "tool_allowlist", "reason": "empty"}),
            (
                "budget",
                {"max_iterations": 0},
                BUDGET,
                {
                    "field": "budget",
                    "subfield": "max_iterations",
                    "reason": "missing_or_not_positive_int_or_minus_one",
                },
            ),
            (
                "checkpoint_cadence",
                "often",
                None,
                {"field": "checkpoint_cadence", "reason": "not_a_dict"},
            ),
            (
                "stagnation_threshold",
                0,
                3,
                {"field": "stagnation_threshold", "reason": "must_be_positive_int"},
            ),
            (
                "allow_scripted_strategies",
                1,
                False,
                {"field": "allow_scripted_strategies", "reason": "not_a_bool"},
            ),
            (
                "use_sampling",
                "sometimes",
                True,
                {
                    "field": "use_sampling",
                    "reason": "invalid_value",
                    "allowed": ["after_adjust", "every_iteration"],
                },
            ),
            (
                "use_sampling",
                True,
                None,
                {"field": "use_sampling", "reason": "no_sampler_configured"},
            ),
            ("metadata", [], None, {"field": "metadata", "reason": "not_a_dict"}),
            (
                "session_id",
                "taken",
                "fresh",
                {"field": "session_id", "reason": "duplicate_session_id"},
            ),
        ]
        inputs: dict[str, Any] = {
            "session_id": "bad id!",
            "directive": 5,
            "criteria": [],
            "tool_allowlist": None,
            "budget": {"max_iterations": 0},
            "checkpoint_cadence": "often",
            "stagnation_threshold": 0,
            "allow_scripted_strategies": 1,
            "use_sampling": "sometimes",
            "metadata": [],
        }

        for key, bad, good, expected in steps:
            assert bad == inputs[key]
            assert expected == details_of(lambda: mission.start(**inputs))
            assert ["taken"] == [s.session_id for s in mission.sessions()]
            assert [] == events
            inputs[key] = good

        session = mission.start(**inputs)

        assert "fresh" == session.id
        assert 2 == len(mission.sessions())
        assert 1 == len(events)

    @pytest.mark.parametrize("value", [1, 0, "True", "", [], "after-adjust"])
    def test_use_sampling_invalid_values(self, value: Any) -> None:
        """use_sampling accepts only None, bools and the two mode strings."""
        mission = Mission(tools=[probe], sampler=ScriptedSampler())

        assert {
            "field": "use_sampling",
            "reason": "invalid_value",
            "allowed": ["after_adjust", "every_iteration"],
        } == details_of(lambda: mission.start(**spec(use_sampling=value)))

    @pytest.mark.parametrize("value", [True, "after_adjust", "every_iteration"])
    def test_sampling_needs_a_sampler(self, value: Any) -> None:
        """Sampling switched on without a sampler is rejected."""
        assert {"field": "use_sampling", "reason": "no_sampler_configured"} == details_of(
            lambda: Mission(tools=[probe]).start(**spec(use_sampling=value))
        )

    @pytest.mark.parametrize(
        ("sampler", "value", "expected"),
        [
            (False, None, (False, None)),
            (True, None, (True, "after_adjust")),
            (True, False, (False, None)),
            (True, True, (True, "after_adjust")),
            (True, "after_adjust", (True, "after_adjust")),
            (True, "every_iteration", (True, "every_iteration")),
        ],
    )
    def test_sampling_resolution(
        self, sampler: bool, value: Any, expected: tuple[bool, Any]
    ) -> None:
        """use_sampling resolves to (use_sampling, sampling_mode) on the stored session."""
        mission = Mission(tools=[probe], sampler=ScriptedSampler() if sampler else None)

        state = mission.start(**spec(use_sampling=value)).state

        assert expected == (state.use_sampling, state.sampling_mode)

    def test_allowlist_none_is_empty(self) -> None:
        """tool_allowlist None without allow_all_tools is an empty allowlist."""
        assert {"field": "tool_allowlist", "reason": "empty"} == details_of(
            lambda: Mission(tools=[probe]).start(**spec(tool_allowlist=None))
        )

    def test_allow_all_tools_excludes_control_tools(self) -> None:
        """allow_all_tools takes every known tool except the control tools, sorted."""
        mission = Mission(
            tools={"zeta": probe, "mission_status": mission_status, "ext": None, "alpha": quiet}
        )

        state = mission.start(**spec(tool_allowlist=None, allow_all_tools=True)).state

        assert ("alpha", "ext", "zeta") == state.tool_allowlist
        assert "mission_status" in MISSION_CONTROL_TOOLS

    def test_custom_control_tools(self) -> None:
        """Mission(control_tools=...) replaces the excluded names."""
        mission = Mission(tools=[probe, quiet, mission_status], control_tools=["quiet"])

        state = mission.start(**spec(tool_allowlist=None, allow_all_tools=True)).state

        assert ("mission_status", "probe") == state.tool_allowlist

    def test_allow_all_tools_with_only_control_tools(self) -> None:
        """allow_all_tools over a registry of control tools only is rejected."""
        assert {
            "field": "tool_allowlist",
            "reason": "allow_all_tools_empty_registry",
        } == details_of(
            lambda: Mission(tools=[mission_status]).start(
                **spec(tool_allowlist=None, allow_all_tools=True)
            )
        )

    def test_flag_lookup_reported(self) -> None:
        """An unregistered allowlisted tool reports its gating flag."""
        mission = Mission(tools=[probe], flag_lookup={"deploy": "ENABLE_DEPLOY"})

        assert {
            "field": "tool_allowlist",
            "tool_name": "deploy",
            "reason": "tool_not_registered",
            "flag": "ENABLE_DEPLOY",
        } == details_of(lambda: mission.start(**spec(tool_allowlist=["deploy"])))

    def test_start_from_json_file(self, tmp_path: Path) -> None:
        """Keyword names equal the start-spec JSON keys, so start(**json.load(f)) works."""
        path = tmp_path / "spec.json"
        path.write_text(
            json.dumps(
                {
                    "directive": "Probe it",
                    "criteria": CRITERIA,
                    "budget": BUDGET,
                    "tool_allowlist": ["probe"],
                    "allow_all_tools": False,
                    "checkpoint_cadence": {"kind": "every_n_iterations", "n": 2},
                    "stagnation_threshold": 4,
                    "allow_scripted_strategies": True,
                    "use_sampling": False,
                    "session_id": "from-file",
                    "metadata": {"owner": "me"},
                }
            )
        )
        mission = Mission(tools=[probe], clock=FakeClock())

        with path.open() as f:
            session = mission.start(**json.load(f))

        state = session.state
        assert "from-file" == state.session_id
        assert Cadence("every_n_iterations", n=2) == state.checkpoint_cadence
        assert (4, True, {"owner": "me"}) == (
            state.stagnation_threshold,
            state.allow_scripted_strategies,
            state.metadata,
        )

    def test_new_session_values(self) -> None:
        """A new session is pending at revision 1 with the §3.11 creation values."""
        clock = FakeClock("2025-02-03T04:05:06+00:00")
        mission = Mission(tools=[probe], clock=clock)

        state = mission.start(**spec()).state

        assert ("pending", 1, "Probe it") == (state.status, state.revision, state.directive_text)
        assert state.session_id.startswith("mission-")
        assert 16 == len(state.session_id.removeprefix("mission-"))
        assert Cadence() == state.checkpoint_cadence
        assert clock.now == state.created_at == state.updated_at
        assert {"c": (False, None)} == {
            k: (v.ever_met, v.best_value) for k, v in state.criterion_progress.items()
        }
        assert {} == state.metadata
        assert () == state.iterations

    def test_model_inputs(self) -> None:
        """start accepts model instances as well as JSON data."""
        mission = Mission(tools=[probe])

        state = mission.start(
            directive="Probe",
            criteria=[EventCriterion(criterion_id="e", required=True, event_name="go")],
            budget=Budget(2, -1),
            tool_allowlist=["probe"],
            checkpoint_cadence=Cadence("on_event", event_name="go"),
        ).state

        assert Budget(2, -1) == state.budget
        assert "e" == state.criteria[0].criterion_id

    def test_build_state_writes_nothing(self) -> None:
        """build_state runs every check without storing the session."""
        mission = Mission(tools=[probe])

        state = mission.build_state(**spec(session_id="dry"))

        assert "dry" == state.session_id
        assert [] == mission.sessions()


class TestMissionLifetime:
    def test_unclosed_mission_with_its_own_runner_warns(self) -> None:
        """A Mission collected while owning a script runner emits a ResourceWarning."""
        import gc

        def noop() -> dict[str, Any]:
            return {}

        mission = mk.Mission(
            tools=[noop],
            proposer=lambda ctx: {"script": "await mission.observe('a', 1)\n"},
        )
        session = mission.start(
            directive="d",
            criteria=[{"criterion_id": "e", "kind": "event", "required": True, "event_name": "x"}],
            budget={"max_iterations": 2, "max_wall_clock_seconds": -1},
            tool_allowlist=["noop"],
            allow_scripted_strategies=True,
        )
        session.step()
        del session

        with pytest.warns(ResourceWarning, match="without close"):
            del mission
            gc.collect()

    def test_closed_or_runnerless_missions_do_not_warn(
        self, recwarn: pytest.WarningsRecorder
    ) -> None:
        """Closing, or never starting a runner, leaves nothing to warn about."""
        import gc

        with mk.Mission() as closed:
            assert "store=MemoryStore" in repr(closed)
        plain = mk.Mission()
        del closed, plain
        gc.collect()

        assert [] == [w for w in recwarn if issubclass(w.category, ResourceWarning)]
