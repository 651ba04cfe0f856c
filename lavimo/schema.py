"""The base of every config section (pydantic v2): frozen, unknown keys refused, validated when built, and every
problem reported at once as one ConfigError whose lines name the dotted key.

A section checks its single fields with the types below and `Field` bounds, and its cross-field rules in
`problems()`, which runs once its fields are valid. `build(cls, raw)` and `section.replace(**changes)` are the
only ways a section is made from values, so an unchecked one cannot exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

Int = Annotated[int, Strict()]  # an int, not a bool, a float or a string
Count = Annotated[int, Strict(), Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]  # a probability or a share, in [0, 1]
S = TypeVar("S", bound="Section")


class ConfigError(ValueError):
    """A configuration that cannot be used; each line of the message names the file or the key."""


class Problems(ValueError):
    """What a section's `problems()` found: (key within the section, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))
        self.problems = problems


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field rules: (key within this section, message) for each one broken."""
        return []

    @model_validator(mode="after")
    def _check_problems(self) -> Self:
        found = self.problems()
        if found:
            raise Problems(found)
        return self

    def replace(self, **changes: Any) -> Self:
        """A validated copy with some fields changed (values or sections)."""
        return build(type(self), {**dict(self), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain nested values (tuples as lists), fit for JSON, YAML and MLflow."""
        return self.model_dump(mode="json")


def checked(check: Callable[[Any], str | None]) -> AfterValidator:
    """A field validator from `check(value) -> the problem, or None when the value is good`."""

    def validate(value: Any) -> Any:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


def build(cls: type[S], raw: Any, moved: Mapping[str, str] | None = None) -> S:
    """`cls` validated from plain values; ConfigError listing every problem by its dotted key, a key in `moved`
    (old dotted key: new one) named with its new key."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        lines = [line for error in err.errors() for line in _lines(error, cls, moved or {})]
        raise ConfigError(lines[0] if len(lines) == 1 else f"{len(lines)} problems:\n  " + "\n  ".join(lines)) from None


def _lines(error: Mapping[str, Any], cls: type[Section], moved: Mapping[str, str]) -> list[str]:
    path = [str(part) for part in error["loc"]]
    key = ".".join(path)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Problems):
        return [f"{key + '.' if path else ''}{name}: {message}" for name, message in cause.problems]
    if error["type"] == "extra_forbidden":
        if key in moved:
            return [f"'{key}' is now '{moved[key]}': move it there"]
        return [f"unknown key '{key}' (known keys: {', '.join(_section_at(cls, path[:-1]).model_fields)})"]
    where = key or "config"
    if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return [f"{where}: expected a mapping, got {error['input']!r}"]
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        return [f"{where}: {message}"]
    return [f"{where}: {message[0].lower()}{message[1:]}, got {error['input']!r}"]


def _section_at(cls: type[Section], path: list[str]) -> type[Section]:
    for name in path:
        cls = cls.model_fields[name].annotation
    return cls
