"""Code that runs inside the user's training process.

`tuitune.trial` (the in-trial API) and `tuitune.keras` (the Keras callback) are
the public doors to this package; the sinks and the queued writer carry reports
from the training process to the supervisor. Nothing here imports the engine,
the store or the UI: a training script pays only for what it uses."""
