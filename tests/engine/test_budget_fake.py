"""`tuitune budget` on a run of fake trials (real supervisor, store and commands; the
CLI in this process). The real-process tests are in test_budget_live.py."""

from __future__ import annotations

from tests.support.fake_runs import live_fake_run, stepper
from tests.support.store_reads import events, read
from tests.support.waiting import wait_for

from .bad_input import run_cli


def test_budget_caps_turned_off_and_fewer_trials(tt_home, tmp_path):
    """`--trial-timeout off` / `--experiment-timeout off` remove a cap (the supervisor
    refused them: it checked the front end's 0 again as a duration); a smaller total
    above what has run is taken, one below it refused."""
    with live_fake_run(tmp_path, stepper(steps=5000), tt_home, strategy="random",
                       concurrent=1, budget='max_trials = 20\ntrial_timeout = "1h"\n'
                       'experiment_timeout = "1d"') as run_dir:
        run = str(run_dir)
        wait_for(lambda: read(run_dir, lambda s: s.count_trials()) >= 1, 30, "a trial")
        code, out, err = run_cli(["budget", run, "--trial-timeout", "off",
                                  "--experiment-timeout", "off"])
        assert code == 0, err
        assert "trial timeout 1h -> none, experiment timeout 1d -> none" in out, out
        meta = read(run_dir, lambda s: s.meta())
        assert meta["trial_timeout"] is None and meta["experiment_timeout"] is None
        for text in ("0", "-1m"):
            code, _, err = run_cli(["budget", run, f"--trial-timeout={text}"])
            assert code == 2 and "trial-timeout" in err and err.count("\n") == 1, err
        code, out, err = run_cli(["budget", run, "--max-trials", "5"])
        assert code == 0 and "max trials 20 -> 5" in out, err
        code, _, err = run_cli(["budget", run, "--max-trials", "0"])
        assert code == 2 and err.count("\n") == 1, err
        assert [e.actor for e in events(run_dir, "budget")] == ["user", "user"]
