"""Reading cockpit.toml: find it, parse it, resolve ${VAR}s, validate, explain every mistake."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, ValidationError

from ppcockpit.config_model import CockpitFile, EnvironmentConfig, ProbesConfig
from ppcockpit.secrets import Redactor

CONFIG_ENV_VAR = "PPCOCKPIT_CONFIG"
DEFAULT_CONFIG_NAME = "cockpit.toml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Stands in for another environment's ${VAR}s: errors about it are not the user's mistake.
_UNSET = "\x00unset\x00"


class ConfigError(Exception):
    """A configuration or command-line mistake, explained in one message (exit 2)."""


@dataclass(frozen=True)
class Config:
    """The validated configuration for one chosen environment."""

    path: Path
    environment_name: str
    environment: EnvironmentConfig
    environment_names: tuple[str, ...]
    probes: ProbesConfig
    operator: str
    theme: str
    history: int
    redactor: Redactor = field(default_factory=Redactor)

    def resolve_path(self, relative: str) -> Path:
        """A path written in the config file, taken relative to that file."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.path.parent / candidate


def find_config(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--config, then $PPCOCKPIT_CONFIG, then ./cockpit.toml."""
    environ = os.environ if environ is None else environ
    if explicit:
        path, origin = Path(explicit), "--config"
    elif environ.get(CONFIG_ENV_VAR):
        path, origin = Path(environ[CONFIG_ENV_VAR]), f"${CONFIG_ENV_VAR}"
    else:
        path, origin = Path(DEFAULT_CONFIG_NAME), "the current directory"
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file (from {origin})")
    return path


def load_config(
    path: Path,
    env_name: str | None = None,
    env_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Parse, resolve and validate `path` for the environment `env_name`."""
    environ = dict(os.environ if environ is None else environ)
    dotenv: dict[str, str] = {}
    if env_file:
        env_path = Path(env_file)
        if not env_path.is_file():
            raise ConfigError(f"--env-file {env_file}: no such file")
        dotenv = {k: v for k, v in dotenv_values(env_path).items() if v is not None}

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, text, exc)) from None

    environments = raw.get("environments")
    if isinstance(environments, dict) and environments:
        names = tuple(environments)
        cockpit = raw.get("cockpit") if isinstance(raw.get("cockpit"), dict) else {}
        default = cockpit.get("environment")
        # A default of the wrong type is reported by validation below, not here.
        chosen = env_name or (default if isinstance(default, str) else None) or names[0]
        if chosen not in environments:
            origin = "--env" if env_name else "cockpit.environment"
            raise ConfigError(
                f"{path}: {origin} {chosen!r} is not an environment here; "
                f"the environments are: {', '.join(names)}"
            )
    else:
        names, chosen = (), ""

    lookup = {**dotenv, **environ}  # the process environment wins over the file
    used_secrets: list[str] = list(dotenv.values())
    # Only the chosen environment's ${VAR}s must be set: staging's secrets are not needed
    # to watch production.
    resolved = _resolve_vars(raw, lookup, used_secrets, path, chosen, ())

    try:
        model = CockpitFile.model_validate(resolved)
    except ValidationError as exc:
        message = _validation_message(path, text, exc)
        if message:
            raise ConfigError(message) from None
        # Only placeholders for other environments' unset ${VAR}s failed: validate the
        # chosen environment alone.
        resolved["environments"] = {chosen: resolved["environments"][chosen]}
        model = CockpitFile.model_validate(resolved)

    return Config(
        path=path,
        environment_name=chosen,
        environment=model.environments[chosen],
        environment_names=names,
        probes=model.probes,
        operator=model.cockpit.operator or environ.get("USER") or "operator",
        theme=model.cockpit.theme,
        history=model.cockpit.history,
        redactor=Redactor(used_secrets),
    )


def _resolve_vars(value: Any, lookup: Mapping[str, str], secrets: list[str], path: Path,
                  chosen: str, loc: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            here = (*loc, str(key))
            if len(here) == 2 and here[0] == "environments" and here[1] != chosen:
                out[key] = _placeholder_vars(item)
            else:
                out[key] = _resolve_vars(item, lookup, secrets, path, chosen, here)
        return out
    if isinstance(value, list):
        return [_resolve_vars(item, lookup, secrets, path, chosen, (*loc, str(i)))
                for i, item in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in lookup:
                raise ConfigError(
                    f"{path}: ${{{name}}} is not set (used by {'.'.join(loc)}); "
                    "set it in the environment or in the file given with --env-file"
                )
            secrets.append(lookup[name])
            return lookup[name]

        return _VAR.sub(substitute, value)
    return value


def _placeholder_vars(value: Any) -> Any:
    """Other environments are validated for shape only: their ${VAR}s need not be set."""
    if isinstance(value, dict):
        return {k: _placeholder_vars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder_vars(v) for v in value]
    if isinstance(value, str) and "${" in value:
        return _VAR.sub(_UNSET, value)
    return value


def _toml_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
    if match:
        line, column = match.groups()
        return f"{path}:{line}:{column}: invalid TOML: {reason}"
    if "end of document" in message:
        lines = text.count("\n") + 1
        return f"{path}:{lines}: invalid TOML: {reason}"
    return f"{path}: invalid TOML: {reason}"


def _validation_message(path: Path, text: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        if isinstance(error.get("input"), str) and _UNSET in error["input"]:
            continue
        loc = tuple(str(part) for part in error["loc"])
        dotted = ".".join(loc) or "(top level)"
        where = _locate(text, loc)
        prefix = f"{path}:{where}" if where else str(path)
        kind = error["type"]
        if kind == "extra_forbidden":
            valid = _valid_keys(CockpitFile, loc[:-1])
            near = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
            hint = f'; did you mean "{".".join((*loc[:-1], near[0]))}"?' if near else ""
            options = f" (valid here: {', '.join(valid)})" if valid and not near else ""
            lines.append(f"{prefix}: unknown key {dotted}{hint}{options}")
        elif kind == "missing":
            lines.append(f"{prefix}: {dotted} is required but missing")
        else:
            message = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            plain = kind == "value_error" or isinstance(got, dict | list)
            shown = "" if plain else f" (got {_show(got)})"
            lines.append(f"{prefix}: {dotted}: {message}{shown}")
    return "\n".join(lines)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _valid_keys(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    current: Any = model
    free_name_next = False
    for part in loc:
        if free_name_next:  # a dict level: this part is a name the user chose
            free_name_next = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _unwrap(info.annotation)
        if typing.get_origin(current) is dict:
            current = _unwrap(typing.get_args(current)[1])
            free_name_next = True
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _locate(text: str, loc: tuple[str, ...]) -> int | None:
    """The line where the dotted key `loc` is written, when it can be found simply."""
    table: tuple[str, ...] = ()
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+\s*(?:#.*)?$")
    assignment = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if match := header.match(line):
            table = tuple(part.strip().strip("\"'") for part in match.group(1).split("."))
            if table == loc:
                return number
            continue
        if match := assignment.match(line):
            key = tuple(p.strip().strip("\"'") for p in match.group(1).split("."))
            full = table + key
            if full == loc or (len(loc) > len(full) and loc[: len(full)] == full):
                return number
    return None
