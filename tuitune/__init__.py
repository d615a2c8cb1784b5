"""tuitune: babysit deep-learning experiments from the terminal."""

__version__ = "0.1.0"
