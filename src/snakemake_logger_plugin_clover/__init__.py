"""The ``clover`` Snakemake logger plugin, and the hook that names a ``--configfile`` YAML error.

What it does, exactly:

* :class:`LogHandler` is a plain logger plugin (``snakemake --logger clover``): it writes each
  record, as Snakemake's default formatter formats it, to stderr (stdout under ``--stdout``);
  an error record becomes one line, ``clover: error: MESSAGE``, as clover's own commands
  print errors.
* At import, :func:`install` wraps ``snakemake.common.configfile._load_configfile`` so that a
  YAML syntax error in a config file names the file, line and column:
  ``config file FILE line L column C: YAML syntax error: PROBLEM``, the wording of
  :func:`clover.config.yaml_file_error_text` (which ``clover.pipeline_check`` uses for
  ``config/config.yaml``). Only that one error message is enriched: every other result,
  value or exception of ``_load_configfile`` passes through unchanged.

Why here: Snakemake 9 reads each ``--configfile`` while it turns its command line into settings
(``snakemake/settings/types.py``, ``ConfigSettings.__post_init__`` -> ``load_configfile`` ->
``_load_configfile`` in ``snakemake/common/configfile.py``), before the Snakefile or any other
project code runs, and on a YAML error raises only ``WorkflowError: Config file is not valid
JSON or YAML``, the PyYAML error (with its mark) left as the exception's context. The one
project code that runs earlier is this package: while building its argument parser
(``snakemake/cli.py``, ``get_argument_parser``) Snakemake instantiates
``LoggerPluginRegistry()``, which imports every top-level package named
``snakemake_logger_plugin_*`` on ``sys.path`` (``snakemake_interface_common.plugin_registry``,
``collect_plugins``). This package ships in ``src/`` beside ``clover``, so both the editable
install and ``PYTHONPATH=src`` put it there.

The hook is idempotent, leaves Snakemake untouched if anything about installing it fails (a
Snakemake without ``_load_configfile``), and is off with ``CLOVER_SNAKEMAKE_HOOK=0``.
Importing this module costs only what Snakemake has already imported; ``clover`` itself is
imported only when a YAML error is being reported.
"""

from __future__ import annotations

import functools
import os
import sys
from logging import ERROR, LogRecord
from typing import Any, Callable

from snakemake_interface_logger_plugins.base import LogHandlerBase

#: set to ``0`` to leave ``snakemake.common.configfile`` unwrapped
HOOK_ENV = "CLOVER_SNAKEMAKE_HOOK"
#: attribute that marks the wrapper, so that a second :func:`install` does nothing
_MARK = "__clover_configfile_hook__"


class LogHandler(LogHandlerBase):
    """Snakemake's records on stderr (stdout under ``--stdout``); an error as one line
    ``clover: error: ...``. Uses Snakemake's default filter and formatter."""

    def emit(self, record: LogRecord) -> None:
        try:
            text = self.format(record)
            if not text or text == "None":
                return
            if record.levelno >= ERROR:
                text = "clover: error: " + " ".join(text.split())
            stream = sys.stdout if getattr(self.common_settings, "stdout", False) else sys.stderr
            stream.write(text + "\n")
            stream.flush()
        except Exception:  # a logging handler never raises (logging.Handler contract)
            self.handleError(record)

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False

    @property
    def has_formatter(self) -> bool:
        return False

    @property
    def needs_rulegraph(self) -> bool:
        return False


def _marked_yaml_error(exc: BaseException) -> BaseException | None:
    """The first PyYAML error with a position in ``exc``'s cause/context chain (yte re-raises
    a scanner error without its mark, the original one as its context), or None."""
    import yaml

    seen: set[int] = set()
    current = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, yaml.MarkedYAMLError) and (current.problem_mark
                                                          or current.context_mark):
            return current
        current = current.__cause__ or current.__context__
    return None


def _named_message(exc: BaseException, path: object, filetype: object) -> str | None:
    """The enriched message for a config file's YAML syntax error, else None (pass through)."""
    if filetype != "Config" or not isinstance(path, (str, os.PathLike)):
        return None
    yaml_exc = _marked_yaml_error(exc)
    if yaml_exc is None:
        return None
    from clover.config import yaml_file_error_text  # only now: the normal path imports nothing

    return yaml_file_error_text(os.fspath(path), yaml_exc)


def wrap(original: Callable[..., Any], error_type: type[BaseException]) -> Callable[..., Any]:
    """``original`` (Snakemake's ``_load_configfile(configpath_or_obj, filetype="Config")``)
    with an ``error_type`` raised for a YAML syntax error re-raised naming file, line, column."""

    @functools.wraps(original)
    def load(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except error_type as exc:
            path = args[0] if args else kwargs.get("configpath_or_obj")
            filetype = args[1] if len(args) > 1 else kwargs.get("filetype", "Config")
            try:
                message = _named_message(exc, path, filetype)
            except Exception:  # never worse than Snakemake's own message
                message = None
            if message is None:
                raise
            # with Snakemake's traceback, so that its error report (snakemake.exceptions,
            # cut_traceback) shows no frame of this wrapper, as for its own message
            raise error_type(message).with_traceback(exc.__traceback__) from exc

    setattr(load, _MARK, True)
    return load


def install() -> bool:
    """Wrap ``snakemake.common.configfile._load_configfile`` (see the module docstring); True
    if this call installed the wrapper, False if it was off, already there or not possible."""
    if os.environ.get(HOOK_ENV, "1").strip() == "0":
        return False
    try:
        from snakemake.common import configfile

        original = getattr(configfile, "_load_configfile", None)
        error_type = getattr(configfile, "WorkflowError", None)
        if (not callable(original) or getattr(original, _MARK, False)
                or not isinstance(error_type, type) or not issubclass(error_type, Exception)):
            return False
        configfile._load_configfile = wrap(original, error_type)
        return True
    except Exception:  # an odd Snakemake: leave it exactly as it is
        return False


install()
