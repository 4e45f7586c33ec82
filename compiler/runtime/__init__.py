"""The Docker runtime of `deployc up/down/status/logs`: a target's engine container, run through the Engine API.

Nothing in the build imports this package (import-linter contracts in pyproject.toml): only compiler/cli_up.py
does, inside its commands, so `deployc build` and `validate` never load it, and docker is imported only inside
the functions here that talk to the engine. Nothing here prints: progress goes to callbacks the CLI passes,
failures are ``errors.RunError`` (message, hint, logs).

One module per job:

- ``compose``: Compose's interpolation and value syntax (`${NAME:-default}`, durations, sizes, bind sources),
  resolved from the caller's environment at `up` time, as `docker compose up` resolves them.
- ``containers``: the containers.create arguments made from an ``api.Service``, its labels and name.
- ``daemon``: the docker-py client (connect, find, pull, create/start, remove, state, logs).
- ``health``: waiting for the health route of a started container.
- ``steps``: a Service's setup steps (one-shot containers) and launch steps (exec in the server).
- ``clock``: the one clock the runtime and the CLI read and sleep with (tests replace ``clock.CLOCK``).
- ``errors``: ``RunError`` and the Engine API's errors in the user's terms.
- ``protocols``: the parts of docker-py's objects this package touches, as Protocols.
"""
