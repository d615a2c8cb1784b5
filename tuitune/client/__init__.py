"""Front-end clients: code that runs in the user's shell, never in the supervisor.

The `tuitune` command line (cli.py parses, cli_commands.py acts), the run client
that reads a run and sends it commands (run_client.py, also used by the TUI),
and the plain-text views the CLI prints. The TUI itself lives in tuitune/ui."""
