"""Reading cockpit.toml: find it, parse it, resolve ${VAR}s, validate, explain every mistake.

Every message names the file, the line and the dotted key (ppcockpit.toml_document), never
shows a value that came from a ${VAR} or an env file, and shows every name from outside with
its control characters made visible.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppcockpit.config_model import (
    CockpitFile,
    CockpitSection,
    EnvironmentConfig,
    HttpUrl,
    ProbesConfig,
    RedisUrl,
    Seconds,
    dec_hook,
)
from ppcockpit.rollback_plan import RollbackPlan
from ppcockpit.secrets import Redactor, looks_secret, url_password
from ppcockpit.text import escape_controls
from ppcockpit.toml_document import (
    ConfigError,
    Document,
    convert,
    dotted,
    read_text,
    read_toml,
    regular_file,
    struct_fields,
)

__all__ = ["Config", "ConfigError", "find_config", "load_config"]

CONFIG_ENV_VAR = "PPCOCKPIT_CONFIG"
DEFAULT_CONFIG_NAME = "cockpit.toml"
MAX_ENV_FILE_BYTES = 8 * 1024 * 1024
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Settings whose value is not a credential even when it comes from a ${VAR}: redacting them
# would only hide the environment's name or URL from the operator.
_PLAIN_SETTINGS = frozenset({
    "environment", "operator", "theme", "base_url", "host", "url", "management_url",
    "project_id", "project_ref", "migrations_dir", "path", "reference", "candidate",
})
# What stands in for another environment's ${VAR}s, by the type of the setting: those
# environments are validated for shape, and their secrets are not needed to watch this one.
_STAND_INS: dict[Any, str] = {HttpUrl: "https://unset.invalid", RedisUrl: "redis://unset.invalid",
                              Seconds: "1s"}


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
    cockpit: CockpitSection = field(default_factory=CockpitSection)
    rollback: RollbackPlan | None = None  # cockpit.toml's [rollback], when it has one
    # The --env-file's variables under the process environment's: commands run with them.
    variables: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Validates another environment with its own ${VAR}s (a runbook step may watch staging).
    _other_environment: Callable[[str], EnvironmentConfig] | None = field(
        default=None, repr=False, compare=False)

    def resolve_path(self, relative: str) -> Path:
        """A path written in the config file, taken relative to that file."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.path.parent / candidate

    def environment_config(self, name: str) -> EnvironmentConfig:
        """The settings of environment `name`, its ${VAR}s resolved (ConfigError when one is
        not set); its secrets join this config's redactor."""
        if name == self.environment_name:
            return self.environment
        if name not in self.environment_names or self._other_environment is None:
            raise ConfigError(f"{self.path}: {escape_controls(repr(name))} is not an "
                              f"environment here; the environments are: "
                              f"{', '.join(escape_controls(n) for n in self.environment_names)}")
        return self._other_environment(name)


def find_config(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--config, then $PPCOCKPIT_CONFIG, then ./cockpit.toml."""
    environ = os.environ if environ is None else environ
    if explicit:
        path, origin = Path(explicit), "--config"
    elif environ.get(CONFIG_ENV_VAR):
        path, origin = Path(environ[CONFIG_ENV_VAR]), f"${CONFIG_ENV_VAR}"
    else:
        path, origin = Path(DEFAULT_CONFIG_NAME), "the current directory"
    try:
        regular_file(path, "configuration file")
    except ConfigError as exc:
        raise ConfigError(f"{escape_controls(exc)} (from {origin})") from None
    return path


def read_env_file(env_file: str) -> tuple[dict[str, str], set[str]]:
    """The variables of a .env file, and those of its values that are secrets (keys named
    like credentials, URL passwords). Never every value: `3000` or `true` is not a secret."""
    path = Path(env_file)
    try:
        text = read_text(path, "file", limit=MAX_ENV_FILE_BYTES)
    except ConfigError as exc:
        raise ConfigError(f"--env-file {exc}") from None
    from dotenv import dotenv_values  # only when there is an env file

    values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    secrets = {v for k, v in values.items() if looks_secret(k) or url_password(v)}
    return values, secrets


def load_config(
    path: Path,
    env_name: str | None = None,
    env_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Parse, resolve and validate `path` for the environment `env_name`."""
    environ = dict(os.environ if environ is None else environ)
    dotenv: dict[str, str] = {}
    secrets: set[str] = set()
    if env_file:
        dotenv, secrets = read_env_file(env_file)
    resolver = _Resolver({**dotenv, **environ})  # the process environment wins
    try:
        config = _load(read_toml(path), env_name, resolver, environ)
    except ConfigError as exc:
        # A message never holds a secret, even one a validator quoted.
        redact = Redactor(secrets | resolver.secrets)
        raise ConfigError(redact(str(exc))) from None
    config.redactor.add(secrets)
    return config


def _load(document: Document, env_name: str | None, resolver: _Resolver,
          environ: Mapping[str, str]) -> Config:
    raw = document.data
    cockpit = raw.get("cockpit")
    cockpit = resolver.resolve(cockpit, ("cockpit",)) if isinstance(cockpit, dict) else cockpit
    environments = raw.get("environments")
    names: tuple[str, ...] = ()
    chosen = ""
    if isinstance(environments, dict) and environments:
        names = tuple(environments)
        default = cockpit.get("environment") if isinstance(cockpit, dict) else None
        # A default of the wrong type is reported by validation below, not here.
        chosen = env_name or (default if isinstance(default, str) else None) or names[0]
        if chosen not in environments:
            origin = "--env" if env_name else "cockpit.environment"
            where = document.path if env_name else document.where(("cockpit", "environment"))
            raise ConfigError(
                f"{where}: {origin} {escape_controls(repr(chosen))} is not an environment "
                f"here; the environments are: {', '.join(escape_controls(n) for n in names)}")

    resolved = {key: value for key, value in raw.items() if key != "environments"}
    if isinstance(cockpit, dict):
        resolved["cockpit"] = cockpit
    if "probes" in resolved:
        resolved["probes"] = resolver.resolve(resolved["probes"], ("probes",))
    resolver.raise_missing(document)
    if environments is not None:
        resolved["environments"] = environments
    file = convert(document, resolved, CockpitFile, dec_hook=dec_hook)

    def resolved_environment(name: str) -> EnvironmentConfig:
        loc = ("environments", name)
        data = resolver.resolve(file.environments[name], loc)
        resolver.raise_missing(document)
        resolver.secrets |= set(_written_credentials(data))
        return convert(document, data, EnvironmentConfig, loc, origins=resolver.origins,
                       dec_hook=dec_hook)

    validated: dict[str, EnvironmentConfig] = {}
    for name, values in file.environments.items():
        if name == chosen:
            validated[name] = resolved_environment(name)
        else:
            validated[name] = convert(document, _stand_in_vars(values, EnvironmentConfig),
                                      EnvironmentConfig, ("environments", name),
                                      dec_hook=dec_hook)
    redactor = Redactor(resolver.secrets)

    def other_environment(name: str) -> EnvironmentConfig:
        try:
            environment = resolved_environment(name)
        except ConfigError as exc:
            raise ConfigError(redactor(str(exc))) from None
        redactor.add(resolver.secrets)
        return environment

    return Config(
        path=document.path,
        environment_name=chosen,
        environment=validated[chosen],
        environment_names=names,
        probes=file.probes,
        operator=escape_controls(file.cockpit.operator or environ.get("USER") or _login_name()),
        theme=file.cockpit.theme,
        history=file.cockpit.history,
        redactor=redactor,
        cockpit=file.cockpit,
        rollback=file.rollback,
        variables=resolver.lookup,
        _other_environment=other_environment,
    )


class _Resolver:
    """Replaces ${VAR}s with their values, remembering which settings came from which
    variable (errors name the variable, never the value) and which values are secrets."""

    def __init__(self, lookup: Mapping[str, str]) -> None:
        self.lookup = lookup
        self.origins: dict[tuple[str, ...], str] = {}
        self.secrets: set[str] = set()
        self.missing: dict[str, list[tuple[str, ...]]] = {}  # variable -> where it is used

    def raise_missing(self, document: Document) -> None:
        """One message for every ${VAR} that is not set, each with the settings using it."""
        if not self.missing:
            return
        first = min(self.missing.values(), key=lambda locs: document.index.line_of(locs[0])
                    or 0)[0]
        names = [f"${{{name}}} (used by {', '.join(dotted(loc) for loc in locs)})"
                 for name, locs in self.missing.items()]
        verb = "is" if len(names) == 1 else "are"
        self.missing = {}
        raise ConfigError(f"{document.where(first)}: {'; '.join(names)} {verb} not set; set "
                          f"{'it' if len(names) == 1 else 'them'} in the environment or in "
                          "the file given with --env-file")

    def resolve(self, value: Any, loc: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            return {key: self.resolve(item, (*loc, str(key))) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, (*loc, str(i))) for i, item in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return _VAR.sub(lambda match: self._value(match.group(1), loc), value)
        return value

    def _value(self, name: str, loc: tuple[str, ...]) -> str:
        if name not in self.lookup:
            self.missing.setdefault(name, []).append(loc)
            return "${" + name + "}"
        value = self.lookup[name]
        self.origins[loc] = name
        setting = loc[-1] if loc else ""
        if looks_secret(name) or setting not in _PLAIN_SETTINGS:
            self.secrets.add(value)
        elif password := url_password(value):
            self.secrets.add(password)
        return value


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database (a container)
        return "operator"


def _written_credentials(value: Any, depth: int = 0) -> list[str]:
    """Credentials written literally in the file (`token = "..."`, not `${VAR}`): secrets
    all the same."""
    found: list[str] = []
    if isinstance(value, dict) and depth < 8:
        for key, item in value.items():
            if isinstance(item, str) and looks_secret(str(key)):
                found.append(item)
            elif isinstance(item, str) and (password := url_password(item)):
                found.append(password)
            else:
                found += _written_credentials(item, depth + 1)
    elif isinstance(value, list) and depth < 8:
        for item in value:
            found += _written_credentials(item, depth + 1)
    return found


def _stand_in_vars(value: Any, kind: Any) -> Any:
    """Another environment's settings with each ${VAR} replaced by a stand-in of the
    setting's type, so that its shape is checked without its secrets."""
    if isinstance(value, dict):
        fields = struct_fields(kind) or {}
        return {key: _stand_in_vars(item, fields.get(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_stand_in_vars(item, None) for item in value]
    if isinstance(value, str) and "${" in value:
        for candidate in (kind, *getattr(kind, "__args__", ())):
            if candidate in _STAND_INS:
                return _STAND_INS[candidate]
        return "unset"
    return value

