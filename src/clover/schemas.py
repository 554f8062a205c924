"""JSON Schema validation of the project's YAML files (schema files ship as package data).

:func:`first_error` gives the error a user should fix first (the shallowest, then in document
order) so that callers can raise one line naming the file and the field.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import jsonschema
import yaml


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (``*name``): nested aliases let a file of a few
    hundred bytes stand for billions of values, which validation and the effective-config JSON
    then expand (issue 21: bounded memory on any file). No project YAML uses them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed: they can expand a small file "
                "without bound", mark)
        return super().compose_node(parent, index)


def load_yaml(text: str):
    """``yaml.safe_load(text)`` refusing aliases (:class:`_NoAliasLoader`); raises
    ``yaml.YAMLError`` (with a line and column) like it. For every user-supplied YAML file."""
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


@lru_cache(maxsize=None)
def load_schema(package: str, name: str) -> dict:
    """The schema file ``name`` of ``package`` (e.g. ``clover.profiles``, ``params.schema.yaml``)."""
    schema = yaml.safe_load(resources.files(package).joinpath(name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def first_error(instance: object, schema: dict) -> jsonschema.ValidationError | None:
    """The shallowest validation error of ``instance`` (None when it is valid)."""
    errors = jsonschema.Draft202012Validator(schema).iter_errors(instance)
    return min(errors, key=lambda e: len(e.absolute_path), default=None)


def missing_property(error: jsonschema.ValidationError) -> str:
    """The first required property a ``required`` error found missing."""
    return next(k for k in error.validator_value if k not in error.instance)


def field_path(error: jsonschema.ValidationError) -> list[str]:
    """The error's location as strings (``["service", "hill_k"]``)."""
    return [str(p) for p in error.absolute_path]
