"""Public door to the Keras callback (`from tuitune.keras import TuituneCallback`).

The code lives in tuitune/in_trial/keras.py, with the rest of what runs inside
the training process; this name stays for user scripts."""
from tuitune.in_trial.keras import *  # noqa: F401,F403
from tuitune.in_trial.keras import __all__  # noqa: F401
