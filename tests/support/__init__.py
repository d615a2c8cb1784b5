"""Helpers shared by the test folders, one copy each (import `tests.support.X`).

- `waiting`: `wait_for`, polling with a deadline (never a fixed sleep).
- `store_reads`: read a run's store on a connection of the test's own.
- `specs`: the stepping trial script and the spec the engine tests write.
- `processes`: the real CLI, a headless run, a supervisor process, killing one.
- `cli_process`: the CLI in a forked process of its own, without an interpreter start.
- `stray`: the processes a test's runs started (found by the test home).
- `fake_runs`: a supervisor in the test's thread over the fake executor, with a
  clock the test drives; scripts for fake trials.
- `blocked_imports`: make TensorFlow, Ray... unimportable, to check collection.
"""
