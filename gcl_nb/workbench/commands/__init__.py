"""The `gcl-nb` subcommands: each module declares its arguments (`add_cli`) and runs (`run_cli`)."""
