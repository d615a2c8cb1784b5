"""Hand commands on a conditional space (issue 17.1): `new`, `clone --set` and
`tweak` keep only the parameters whose conditions hold, switch a parameter on at its
default when its parent changes, and refuse a value for an inactive parameter in one
line. Real spec loader, real store, the engine's own validators and clone action."""

from __future__ import annotations

import pytest

from tests.support.fake_runs import fake_run, hang
from tests.support.specs import MOMENTUM
from tuitune.engine.commands import CommandError, validate

OPT_AND_MOMENTUM = """
[space.opt]
type = "categorical"
choices = ["sgd", "adam"]
passed = "api"
""" + MOMENTUM


@pytest.fixture
def run(tmp_path):
    r = fake_run(tmp_path, hang(), extra=OPT_AND_MOMENTUM)
    try:
        yield r
    finally:
        r.finish()


def test_new_keeps_only_active_parameters_and_refuses_inactive_values(run):
    spec, store = run.sup.spec, run.store
    assert "momentum" not in validate("new", {"params": {"opt": "adam"}}, spec, store)["params"]
    assert validate("new", {"params": {"opt": "sgd"}}, spec, store)["params"]["momentum"] == 0.9
    with pytest.raises(CommandError) as info:
        validate("new", {"params": {"opt": "adam", "momentum": 0.8}}, spec, store)
    assert str(info.value).startswith('momentum exists only when opt == "sgd"')


def test_clone_switches_conditional_parameters_on_and_off(run):
    spec, store = run.sup.spec, run.store
    adam = store.create_trial(validate("new", {"params": {"opt": "adam"}}, spec, store)["params"],
                              "manual", "test")
    with pytest.raises(CommandError, match="momentum exists only when"):
        validate("clone", {"trial_id": adam, "set": {"momentum": 0.7}}, spec, store)
    args = validate("clone", {"trial_id": adam, "set": {"opt": "sgd"}}, spec, store)
    new_id, _ = run.sup.trials.clone(args["trial_id"], args["set"], False, "test")
    assert store.trial(new_id).params["momentum"] == 0.9  # switched on at its default
    args = validate("clone", {"trial_id": new_id, "set": {"opt": "adam"}}, spec, store)
    back, _ = run.sup.trials.clone(args["trial_id"], args["set"], False, "test")
    assert "momentum" not in store.trial(back).params  # and off again
    run.until(lambda: store.trial(adam).state == "running", "the adam trial running")
    with pytest.raises(CommandError, match="momentum exists only when"):
        validate("tweak", {"trial_id": adam, "set": {"momentum": 0.7}}, spec, store)


def test_fixing_a_conditional_parameter_keeps_its_condition(run):
    """`tuitune space RUN --fix momentum=0.8`: momentum stays SGD's only."""
    from tuitune.engine.space_edit import plan_edit, space_from_table

    spec = run.sup.spec
    revision = plan_edit(spec, run.store.meta(), {"fix": {"momentum": 0.8}})
    space = space_from_table(spec, revision["space"])
    assert space["momentum"].kind == "fixed"
    assert space.complete({"opt": "sgd"})["momentum"] == 0.8
    assert "momentum" not in space.complete({"opt": "adam"})
