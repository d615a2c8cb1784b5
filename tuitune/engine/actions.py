"""The supervisor's answers to commands, one method per command kind.

A mixin of Supervisor: it uses the supervisor's store, spec, executor, trial handles
and ending plans, and keeps no state of its own. Commands arrive validated by
engine.commands; each method returns the line the front end shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuitune.engine import commands as cmd
from tuitune.engine.runs import trial_dir
from tuitune.history import ACTIVE_STATES, KILLED, PAUSED, QUEUED, RUNNING
from tuitune.store import TrialRecord
from tuitune.strategies import MANUAL

if TYPE_CHECKING:
    from tuitune.engine.supervisor import Supervisor

    _Base = Supervisor
else:
    _Base = object


class CommandActions(_Base):
    def _handle_commands(self) -> None:
        for c in self.store.pending_commands():
            try:
                args = cmd.validate(c.kind, c.args, self.spec, self.store)
                result = getattr(self, f"_do_{c.kind}")(args, c.actor)
            except cmd.CommandError as exc:
                self.store.finish_command(c.id, "rejected", str(exc))
                continue
            self.store.finish_command(c.id, "done", result)

    def _do_new(self, args: dict[str, Any], actor: str) -> str:
        trial_id = self.store.create_trial(args["params"], "manual", actor)
        return f"trial {trial_id} queued"

    def _do_kill(self, args: dict[str, Any], actor: str) -> str:
        tid = args["trial_id"]
        trial = self.store.trial(tid)
        assert trial is not None
        if trial.state == QUEUED:
            self._end(tid, KILLED, actor, f"trial {tid} killed before it started")
        else:
            self._plan_end(tid, KILLED, actor, f"trial {tid} killed", immediate=True)
        return f"killing trial {tid}"

    def _do_pause(self, args: dict[str, Any], actor: str) -> str:
        tid = args["trial_id"]
        self.executor.pause(self.handles[tid])
        self.store.transition(tid, PAUSED, actor, f"trial {tid} paused")
        return f"trial {tid} paused"

    def _do_resume(self, args: dict[str, Any], actor: str) -> str:
        tid = args["trial_id"]
        self.executor.resume(self.handles[tid])
        self.store.transition(tid, RUNNING, actor, f"trial {tid} resumed")
        return f"trial {tid} resumed"

    def _do_clone(self, args: dict[str, Any], actor: str, origin: str = "clone") -> str:
        source = self.store.trial(args["trial_id"])
        assert source is not None
        params = {**self.store.current_params(source), **args["set"]}
        step = source.checkpoint_step if args["from_checkpoint"] else None
        changed = {k: v for k, v in args["set"].items() if source.params.get(k) != v}
        how = f"from its checkpoint at step {step}" if step is not None else "from scratch"
        new_id = self.store.create_trial(
            params, origin, actor, parent_id=source.id, clone_step=step,
            from_checkpoint=args["from_checkpoint"],
            message=f"trial {{id}} cloned from trial {source.id} {how}"
                    + (f", changed {changed}" if changed else ""),
            data={"parent": source.id, "changed": changed, "step": step},
        )
        if args["from_checkpoint"]:
            self._copy_checkpoint(source, new_id)
        return f"trial {new_id} cloned from trial {source.id} {how}"

    def _do_tweak(self, args: dict[str, Any], actor: str) -> str:
        tid = args["trial_id"]
        for name, value in args["set"].items():
            self.store.add_param_change(tid, name, value, actor)
        text = ", ".join(f"{k}={v}" for k, v in args["set"].items())
        self.store.add_event("tweak_requested", actor, f"trial {tid}: tweak {text} requested",
                             trial_id=tid, data={"set": args["set"]})
        return f"trial {tid}: {text} will apply at its next step"

    def _do_note(self, args: dict[str, Any], actor: str) -> str:
        self.store.update_trial(args["trial_id"], note=args["text"])
        self.store.add_event("note", actor, f"trial {args['trial_id']} note: {args['text']}",
                             trial_id=args["trial_id"])
        return "note saved"

    def _do_star(self, args: dict[str, Any], actor: str) -> str:
        tid, word = args["trial_id"], "starred" if args["value"] else "unstarred"
        self.store.update_trial(tid, starred=int(args["value"]))
        self.store.add_event("star", actor, f"trial {tid} {word}", trial_id=tid)
        return f"trial {tid} {word}"

    def _do_protect(self, args: dict[str, Any], actor: str) -> str:
        tid, on = args["trial_id"], args["value"]
        self.store.update_trial(tid, protected=int(on))
        word = "protected from" if on else "exposed to"
        self.store.add_event("protect", actor, f"trial {tid} {word} stopping rules", trial_id=tid)
        return f"trial {tid} {word} stopping rules"

    def _do_handoff(self, args: dict[str, Any], actor: str) -> str:
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
                             f"{self.max_concurrent} at a time)", data=args)
        return what

    def _do_requeue(self, args: dict[str, Any], actor: str) -> str:
        source = self.store.trial(args["trial_id"])
        assert source is not None
        return self._do_clone({"trial_id": source.id, "set": {},
                               "from_checkpoint": bool(source.checkpoint)}, actor, "requeue")

    def _do_stop(self, args: dict[str, Any], actor: str) -> str:
        for t in self.store.trials(ACTIVE_STATES):
            if t.state == QUEUED:
                self._end(t.id, KILLED, actor, f"trial {t.id} dropped: experiment stopped")
            else:
                self._plan_end(t.id, KILLED, actor,
                               f"trial {t.id} killed: experiment stopped", immediate=True)
        self.stopping = True  # the loop goes on until every trial's process is gone
        self.store.add_event("stop", actor, "experiment stopping")
        return "stopping the experiment"

    def _do_space(self, args: dict[str, Any], actor: str) -> str:
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

    def _copy_checkpoint(self, source: TrialRecord, new_id: int) -> None:
        # A snapshot: the source keeps overwriting its latest checkpoint.
        src = Path(source.checkpoint or "")
        dest = trial_dir(self.run_dir, new_id) / "initial_checkpoint"
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        if src.is_dir():
            shutil.copytree(src, dest / src.name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / src.name)
        self.store.update_trial(new_id, initial_checkpoint=str(dest / src.name))
