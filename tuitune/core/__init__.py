"""Shared vocabulary: the words every process of tuitune speaks.

The spec and its search space, parameter roles, option checking, the decisions
that search and stopping return, the frozen history they read, and how numbers
and foreign text are shown. Imported by the supervisor, the front ends and the
algorithms alike; it imports none of them (strategies.py reaches the search and
stopping registries only to name them)."""
