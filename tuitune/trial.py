"""Public door to the in-trial API (`from tuitune import trial`).

The code lives in tuitune/in_trial/trial.py, with the rest of what runs inside
the training process; this name stays for user scripts."""
from tuitune.in_trial.trial import *  # noqa: F401,F403
from tuitune.in_trial.trial import __all__  # noqa: F401
