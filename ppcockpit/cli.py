"""The `ppcockpit` command: the cockpit, `check`, `rehearse`. Wires config, probes and the App."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ppcockpit.config import Config, ConfigError, find_config, load_config
from ppcockpit.model import Reading, Status
from ppcockpit.probe import Probe
from ppcockpit.report import as_json, as_table
from ppcockpit.runner import ProbeRunner
from ppcockpit.verdict import decide

EXIT_GO, EXIT_NO_GO, EXIT_USAGE = 0, 1, 2


def skipped(name: str, reason: str) -> Reading:
    """The reading of a probe that has nothing to watch: shown, never counted as a failure."""
    return Reading(probe=name, target="-", status=Status.SKIPPED,
                   summary=f"not configured: {reason}")


def build_probes(config: Config) -> tuple[list[Probe], list[Reading]]:
    """The probes the configuration asks for, and a `skipped` reading for each one that
    lacks what it needs. Probe modules are imported here, when first needed."""
    env, settings = config.environment, config.probes
    probes: list[Probe] = []
    fixed: list[Reading] = []

    if settings.health.enabled:
        from probes.health import HealthProbe

        probes.append(HealthProbe(env.base_url, settings.health))
    if settings.redis.enabled:
        if env.redis_url:
            from probes.redis import RedisProbe

            probes.append(RedisProbe(env.redis_url, settings.redis))
        else:
            fixed.append(skipped("redis", "no redis_url"))
    if settings.posthog.enabled:
        if env.posthog and env.posthog.api_key:
            from probes.posthog import PosthogProbe

            probes.append(PosthogProbe(env.posthog, settings.posthog))
        else:
            fixed.append(skipped("posthog", "no [environments.*.posthog] api_key"))
    if settings.supabase.enabled:
        probes_, fixed_ = _supabase_probes(config)
        probes += probes_
        fixed += fixed_
    if settings.pwa.enabled:
        from probes.pwa import PwaProbe

        probes.append(PwaProbe(env.base_url, settings.pwa))
    if settings.secrets.enabled:
        secrets = settings.secrets
        if secrets.reference and secrets.candidate:
            from probes.secrets_parity import SecretsParityProbe

            probes.append(SecretsParityProbe(config.resolve_path(secrets.reference),
                                             config.resolve_path(secrets.candidate), secrets))
        else:
            fixed.append(skipped("secrets", "[probes.secrets] reference and candidate unset"))
    if settings.deployments.enabled:
        if env.hosting:
            from probes.deployments import DeploymentsProbe

            probes.append(DeploymentsProbe(env.hosting, settings.deployments))
        else:
            fixed.append(skipped("deployments", "no [environments.*.hosting]"))
    return probes, fixed


def _supabase_probes(config: Config) -> tuple[list[Probe], list[Reading]]:
    supabase, settings = config.environment.supabase, config.probes.supabase
    probes: list[Probe] = []
    fixed: list[Reading] = []
    if supabase and supabase.project_ref and supabase.access_token:
        from probes.supabase_backups import SupabaseBackupsProbe
        from probes.supabase_migrations import SupabaseMigrationsProbe

        folder = config.resolve_path(supabase.migrations_dir) if supabase.migrations_dir else None
        probes.append(SupabaseBackupsProbe(supabase, settings))
        probes.append(SupabaseMigrationsProbe(supabase, settings, migrations_dir=folder))
    else:
        reason = "no [environments.*.supabase] project_ref and access_token"
        fixed += [skipped("supabase_backups", reason), skipped("supabase_migrations", reason)]
    if (supabase and supabase.url and supabase.anon_key and supabase.test_user_email
            and supabase.test_user_password):
        from probes.supabase_auth import SupabaseAuthProbe

        probes.append(SupabaseAuthProbe(supabase, settings))
    else:
        fixed.append(skipped("supabase_auth", "no supabase url, anon_key and test user"))
    return probes, fixed


def build_runner(config: Config) -> ProbeRunner:
    probes, fixed = build_probes(config)
    return ProbeRunner(probes, sanitize=config.redactor, fixed=fixed)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH",
                        help="cockpit.toml (default: $PPCOCKPIT_CONFIG, then ./cockpit.toml)")
    common.add_argument("--env", metavar="NAME", help="the environment to watch")
    common.add_argument("--env-file", metavar="PATH",
                        help="a .env file that supplies ${VAR} values")

    parser = argparse.ArgumentParser(
        prog="ppcockpit", parents=[common],
        description="A terminal cockpit for shipping Pocket Philosopher to production.",
        epilog="Commands: check (one sweep, exit 0 go / 1 no-go / 2 usage), "
               "rehearse (a local stand-in of the whole stack).",
    )
    parser.add_argument("--read-only", action="store_true",
                        help="refuse every action that changes anything")
    parser.add_argument("--theme", metavar="NAME", help="dark, light or high-contrast")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", parents=[common], help="one sweep of every probe, no TUI")
    check.add_argument("--json", action="store_true", help="print the documented JSON object")
    check.add_argument("--only", metavar="NAME,...", help="run only these probes")
    sub.add_parser("rehearse", help="start a local stand-in of the stack and open the cockpit",
                   add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["rehearse"]:
        from ppcockpit.rehearsal.command import main as rehearse_main

        return rehearse_main(args_list[1:], _open_rehearsal_cockpit)
    args = _parser().parse_args(args_list)
    try:
        config = load_config(find_config(args.config), args.env, args.env_file)
        if args.command == "check":
            return asyncio.run(run_check(config, as_json_output=args.json, only=args.only))
        return run_cockpit(config, read_only=args.read_only, theme=args.theme)
    except ConfigError as exc:
        print(f"ppcockpit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def run_check(config: Config, *, as_json_output: bool = False,
                    only: str | None = None) -> int:
    runner = build_runner(config)
    chosen = None
    if only:
        chosen = [name.strip() for name in only.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in runner.names]
        if unknown or not chosen:
            await runner.stop()
            raise ConfigError(f"--only {only!r}: unknown probe {', '.join(unknown) or '(none)'};"
                              f" the probes are: {', '.join(runner.names)}")
    try:
        readings = await runner.sweep(chosen)
    finally:
        await runner.stop()
    verdict = decide(readings)
    if as_json_output:
        text = as_json(config.environment_name, verdict, readings, redact=config.redactor.data)
    else:
        text = config.redactor(as_table(config.environment_name, verdict, readings))
    print_out(text)
    return EXIT_GO if verdict.go else EXIT_NO_GO


def print_out(text: str) -> None:
    """Print to stdout; a reader that went away (`check | head -1`) is not an error: the
    exit status still carries the verdict."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point it at nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_cockpit(config: Config, *, read_only: bool = False, theme: str | None = None,
                rehearsal: object | None = None) -> int:
    from ppcockpit.app import make_app

    app = make_app(config, build_runner(config), read_only=read_only, theme=theme,
                   rehearsal=rehearsal)
    app.run()
    return app.return_code or 0


def _open_rehearsal_cockpit(handle: object) -> int:
    config_path: Path = handle.config_path  # type: ignore[attr-defined]
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"ppcockpit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_cockpit(config, rehearsal=handle)


if __name__ == "__main__":
    sys.exit(main())
