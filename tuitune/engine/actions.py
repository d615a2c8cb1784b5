"""The supervisor's answers to commands, one method per command kind.

A mixin of Supervisor: it uses the supervisor's store, spec, executor, trial handles,
ending plans and answers not yet written, and keeps no state of its own. Commands arrive validated by
engine.commands; each method returns the line the front end shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuitune.engine import commands as cmd
from tuitune.engine.boundary import one_line
from tuitune.engine.command_kind import SearchControl, TrialControl
from tuitune.engine.crash_points import crash_point
from tuitune.executors.launch_token import new_token
# Messages and events are read by people: numbers by the one rule (0.005, not
# 0.005000000000000001); the exact values are in the events' data, `export` and `--json`.
from tuitune.core.numfmt import value as shown
from tuitune.core.history import ACTIVE_STATES, KILLED, PAUSED, QUEUED, RUNNING, describe_params
from tuitune.store import CommandRecord, TrialRecord
from tuitune.core.strategies import MANUAL

if TYPE_CHECKING:
    from tuitune.engine.supervisor import Supervisor

    _Base = Supervisor
else:
    _Base = object

CLONE_PREFIX = "clone-"  # trials/clone-TOKEN/: a checkpoint copied for a clone


class CommandActions(_Base):
    def _handle_commands(self) -> None:
        """Each command: marked taken, carried out, answered. Taken comes first, in the
        store, so a supervisor killed while acting never carries it out again (the
        next one answers it as interrupted); a handler that raises answers it failed."""
        self._flush_answers()
        for c in self.store.pending_commands():
            if not self.store.take_command(c.id):
                continue
            crash_point("command.taken")
            status, result = self._carry_out(c)
            crash_point("command.acted")
            self._answers[c.id] = (status, result)
            self._flush_answers()
            crash_point("command.answered")

    def _carry_out(self, c: CommandRecord) -> tuple[str, str]:
        try:
            kind = cmd.command_kind(c.kind)
            args = kind.validate(dict(c.args), self.spec, self.store)
            return "done", kind.handle(self, args, c.actor)
        except cmd.CommandError as exc:
            return "rejected", str(exc)
        except Exception as exc:  # the boundary: no command takes the supervisor down
            self.boundary.log_traceback(exc)
            return "failed", f"{c.kind} failed: {one_line(exc)}"

    def _flush_answers(self) -> None:
        """Write the answers not yet written (a full disk may have refused them)."""
        for command_id, (status, result) in list(self._answers.items()):
            self.store.finish_command(command_id, status, result)
            del self._answers[command_id]

    def _answer_interrupted(self) -> None:
        for c in self.store.taken_commands():
            self.store.finish_command(
                c.id, "failed", f"{c.kind} interrupted: the supervisor stopped while carrying "
                "it out; it is not run again (`tuitune status` and `tuitune events` show "
                "what it did)")

    # -- what command handlers call (engine/command_kind.py: TrialControl, SearchControl) --
    @property
    def trials(self) -> TrialControl:
        return self

    @property
    def search(self) -> SearchControl:
        return self

    def kill(self, trial_id: int, actor: str, message: str, *,
             queued_message: str | None = None) -> None:
        """End a trial now: a queued one is dropped, a live one gets an end plan."""
        trial = self.store.trial(trial_id)
        assert trial is not None
        if trial.state == QUEUED:
            self._end(trial_id, KILLED, actor, queued_message or message)
        else:
            self._plan_end(trial_id, KILLED, actor, message, immediate=True)

    # Pause and unpause record the new state first, then signal: a new supervisor
    # signals every adopted trial into its recorded state (Supervisor.recover).
    def pause(self, trial_id: int, actor: str) -> None:
        self.store.transition(trial_id, PAUSED, actor, f"trial {trial_id} paused")
        crash_point("pause.recorded")
        self.executor.pause(self.handles[trial_id])
        crash_point("pause.signalled")

    def unpause(self, trial_id: int, actor: str) -> None:
        self.store.transition(trial_id, RUNNING, actor, f"trial {trial_id} resumed")
        crash_point("unpause.recorded")
        self.executor.resume(self.handles[trial_id])
        crash_point("unpause.signalled")

    def clone(self, source_id: int, changes: Mapping[str, Any], from_checkpoint: bool,
              actor: str, origin: str = "clone") -> tuple[int, str]:
        """Copy the checkpoint first, then record the clone pointing at the copy: a
        crash in between leaves only an unreferenced copy (removed on recovery)."""
        source = self.store.trial(source_id)
        assert source is not None
        # A changed parent may switch conditional parameters on (at their defaults)
        # or off.
        params = self.spec.space.complete({**self.store.current_params(source), **changes})
        step = source.checkpoint_step if from_checkpoint else None
        changed = {k: v for k, v in changes.items() if source.params.get(k) != v}
        how = f"from its checkpoint at step {step}" if step is not None else "from scratch"
        initial = None
        if from_checkpoint:
            initial = self._copy_checkpoint(source)
            crash_point("clone.copied")
        new_id = self.store.create_trial(
            params, origin, actor, parent_id=source.id, clone_step=step,
            from_checkpoint=from_checkpoint, initial_checkpoint=initial,
            message=f"trial {{id}} cloned from trial {source.id} {how}"
                    + (f", changed {describe_params(changed, value=shown)}" if changed else ""),
            data={"parent": source.id, "changed": changed, "step": step},
        )
        crash_point("clone.recorded")
        return new_id, (f"trial {new_id} cloned from trial {source.id} {how}: "
                        f"{describe_params(params, value=shown)}")

    def outside_space(self, trial_id: int, params: Mapping[str, Any], actor: str) -> str:
        """Hand actions may leave the edited space on purpose: allowed, but said."""
        from tuitune.engine.space_edit import current_revision, outside

        off = outside(self.space, params)
        if not off:
            return ""
        line = (f"warning: trial {trial_id} lies outside the search space (revision "
                f"{current_revision(self.store.meta())}): {'; '.join(off)}")
        self.store.add_event("outside_space", actor, line, trial_id=trial_id,
                             data={"outside": off})
        return f"\n{line}"

    def hand_off(self, args: Mapping[str, Any], actor: str) -> str:
        self.strategy, self.search_options = args["strategy"], args["options"]
        if "more" in args:  # counted when carried out: "from now"
            self.max_trials = cmd.budget_used(self.store) + args["more"]
        self.max_trials = args.get("max_trials", self.max_trials)
        self.max_concurrent = args.get("max_concurrent", self.max_concurrent)
        self._build_searcher()
        self.exhausted = None
        self.store.set_meta(strategy=self.strategy, search_options=self.search_options,
                            max_trials=self.max_trials, max_concurrent=self.max_concurrent)
        what = "manual mode: no new suggestions" if self.strategy == MANUAL else (
            f"handed off to {self.strategy} search")
        self.store.add_event("handoff", actor, f"{what} (max trials {self.max_trials}, "
                             f"{self.max_concurrent} at a time)", data=dict(args))
        return what

    def change_budget(self, args: Mapping[str, Any], actor: str) -> str:
        from tuitune.engine.budget_edit import KEYS, apply

        before = {k: getattr(self, k) for k in KEYS}
        new, line = apply(before, args, cmd.budget_used(self.store))
        # Recorded first: a supervisor that starts over reads the budget from the meta.
        self.store.set_meta(**new)
        for key, value in new.items():
            setattr(self, key, value)
        self.store.add_event("budget", actor, line, data={"before": before, "after": new})
        return line

    def stop_experiment(self, actor: str) -> None:
        # Recorded first: a new supervisor finishes a stop it finds (Supervisor.recover).
        self.store.set_meta(stopping=actor)
        self._stop_trials(actor)
        self.store.add_event("stop", actor, "experiment stopping")

    def _stop_trials(self, actor: str) -> None:
        for t in self.store.trials(ACTIVE_STATES):
            self.kill(t.id, actor, f"trial {t.id} killed: experiment stopped",
                      queued_message=f"trial {t.id} dropped: experiment stopped")
        self.stopping = True  # the loop goes on until every trial's process is gone

    def edit_space(self, args: Mapping[str, Any], actor: str) -> str:
        from tuitune.engine.space_edit import META_KEY, plan_edit, revisions, space_from_table

        meta = self.store.meta()
        done = next((r for r in revisions(meta) if r.get("token") == args["token"]), None)
        if done is not None:  # taken before a crash, answered now: never applied twice
            return f"space revision {done['n']}: {done['change']}"
        revision = {**plan_edit(self.spec, meta, args), "actor": actor, "t": self.clock(),
                    "token": args["token"]}
        self.space = space_from_table(self.spec, revision["space"])
        # Recorded before the searcher changes: a crash in between rebuilds it from here.
        self.store.set_meta(**{META_KEY: [*revisions(meta), revision]})
        self._build_searcher()
        self.exhausted = None  # a wider space may have more to suggest
        line = f"space revision {revision['n']}: {revision['change']}"
        self.store.add_event("space", actor, line, data={"revision": revision["n"],
                                                         "change": revision["change"]})
        return line

    def _copy_checkpoint(self, source: TrialRecord) -> str:
        """A snapshot (the source keeps overwriting its latest checkpoint) in a folder
        of its own, `trials/clone-TOKEN/initial_checkpoint/`; returns the copy's path."""
        src = Path(source.checkpoint or "")
        if not src.exists():
            raise cmd.CommandError(f"trial {source.id}'s checkpoint {src} is gone")
        folder = self.run_dir / "trials" / f"{CLONE_PREFIX}{new_token()}"
        dest = folder / "initial_checkpoint"
        folder.mkdir(mode=0o700)
        try:
            dest.mkdir(mode=0o700)
            if src.is_dir():
                shutil.copytree(src, dest / src.name)
            else:
                shutil.copy2(src, dest / src.name)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return str(dest / src.name)

    def _sweep_clone_copies(self) -> None:
        """Remove copies made for clones that a crash kept from being recorded."""
        used = {Path(t.initial_checkpoint).parent.parent for t in self.store.trials()
                if t.initial_checkpoint}
        for folder in (self.run_dir / "trials").glob(f"{CLONE_PREFIX}*"):
            if folder.is_dir() and not folder.is_symlink() and folder not in used:
                shutil.rmtree(folder, ignore_errors=True)
