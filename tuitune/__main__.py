"""`python -m tuitune`: the same as the `tuitune` command."""
from tuitune.client.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
