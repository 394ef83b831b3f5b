"""``fiftyops plugins ...`` and ``fiftyops users ...``: the Management SDK from the command line."""

from __future__ import annotations

import argparse
from dataclasses import asdict

import fiftyops_provider.management as fom
from fiftyops_provider.cli.output import print_json, print_table
from fiftyops_provider.plugins import OperatorConfig, PluginAlreadyInstalled, PluginError
from fiftyops_provider.plugins.fiftyone_plugins import effective_config


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("plugins", help="install and govern plugins (admins)")
    sub = group.add_subparsers(dest="action", required=True)
    install = sub.add_parser("install", help="install a plugin directory or .zip")
    install.add_argument("path")
    install.add_argument("--overwrite", action="store_true", help="upgrade if already installed")
    install.set_defaults(func=cmd_install)
    upgrade = sub.add_parser("upgrade", help="upgrade an installed plugin from a directory or .zip")
    upgrade.add_argument("path")
    upgrade.set_defaults(func=cmd_install, overwrite=True)
    uninstall = sub.add_parser("uninstall", help="remove a plugin")
    uninstall.add_argument("name")
    uninstall.set_defaults(func=cmd_uninstall)
    sub.add_parser("list", help="installed plugins").set_defaults(func=cmd_list)
    sub.add_parser(
        "operators", help="every operator: installed ones, then FiftyOne's own (with fiftyone_python set)"
    ).set_defaults(func=cmd_operators)
    info = sub.add_parser("info", help="one plugin and its operators")
    info.add_argument("name")
    info.set_defaults(func=cmd_info)
    for name, enabled in (("enable", True), ("disable", False)):
        p = sub.add_parser(name, help=f"{name} a plugin, or one operator with --operator")
        p.add_argument("name")
        p.add_argument("--operator")
        p.set_defaults(func=cmd_enable, enabled=enabled)
    perms = sub.add_parser("perms", help="set an operator's minimum role / dataset permission")
    perms.add_argument("name")
    perms.add_argument("operator")
    perms.add_argument("--role", help="GUEST, COLLABORATOR, MEMBER or ADMIN")
    perms.add_argument("--dataset-permission", help="NO_ACCESS, VIEW, TAG, EDIT or MANAGE")
    perms.set_defaults(func=cmd_perms)
    policy = sub.add_parser(
        "policy", help="set a FiftyOne operator's timeout and on_reset (a FiftyOne plugin's or FiftyOne's own)"
    )
    policy.add_argument("name")
    policy.add_argument("operator")
    policy.add_argument("--execution-timeout", type=float, help="seconds before a run is stopped")
    policy.add_argument("--on-reset", choices=["failed", "rerun"], help="a timed-out or orphaned run fails or reruns")
    policy.add_argument("--max-attempts", type=int, help="runs 'rerun' allows in all")
    policy.set_defaults(func=cmd_policy)
    org = sub.add_parser("org-settings", help="show or set the defaults new operators get")
    org.add_argument("--role")
    org.add_argument("--dataset-permission")
    org.set_defaults(func=cmd_org)

    users = subparsers.add_parser("users", help="users, roles and dataset grants (admins)")
    usub = users.add_subparsers(dest="action", required=True)
    usub.add_parser("list", help="all users").set_defaults(func=cmd_users)
    create = usub.add_parser("create", help="create a user")
    create.add_argument("name")
    create.add_argument("--role", default="MEMBER")
    create.set_defaults(func=cmd_user_create)
    role = usub.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role")
    role.set_defaults(func=cmd_user_role)
    grant = usub.add_parser("grant", help="grant a dataset permission")
    grant.add_argument("name")
    grant.add_argument("dataset")
    grant.add_argument("permission")
    grant.set_defaults(func=cmd_user_grant)


def _show_plugin(info: dict, as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    state = "enabled" if info["enabled"] else "disabled"
    print(f"{info['name']} {info.get('version') or ''} ({state}, {info['runtime']} plugin)")
    if info.get("description"):
        print(info["description"])
    print_table(
        ["operator", "enabled", "delegated", "minimum role", "minimum dataset permission", "execution policy"],
        [
            [
                op,
                spec["enabled"],
                spec["delegation_capable"],
                spec["minimum_role"],
                spec["minimum_dataset_permission"],
                _policy(effective_config(spec)),
            ]
            for op, spec in sorted(info["operators"].items())
        ],
    )


def _policy(config: dict) -> str:
    """Timeout, on_reset and attempts as the executor applies them (OperatorConfig's defaults)."""
    defaults = OperatorConfig(name="defaults")
    timeout = config.get("execution_timeout") or defaults.execution_timeout
    on_reset = config.get("on_reset") or defaults.on_reset
    return f"{timeout:g}s, on_reset {on_reset}, max {config.get('max_attempts') or defaults.max_attempts} attempt(s)"


class AlreadyInstalled(PluginError):
    """``plugins install`` of an installed plugin, in the CLI's words."""


def cmd_install(args: argparse.Namespace) -> None:
    try:
        info = fom.upload_plugin(args.path, overwrite=args.overwrite)
    except PluginAlreadyInstalled as exc:
        raise AlreadyInstalled(
            f"Plugin {exc.name} is already installed; upgrade it with: fiftyops plugins upgrade {args.path}"
        ) from None
    _show_plugin(info, args.json)


def cmd_uninstall(args: argparse.Namespace) -> None:
    fom.delete_plugin(args.name)
    print_json({"uninstalled": args.name}) if args.json else print(f"uninstalled {args.name}")


def cmd_list(args: argparse.Namespace) -> None:
    plugins = fom.list_plugins()
    if args.json:
        print_json(plugins)
        return
    print_table(
        ["name", "version", "runtime", "enabled", "operators", "description"],
        [
            [p["name"], p.get("version"), p["runtime"], p["enabled"], len(p["operators"]), p.get("description")]
            for p in plugins
        ],
    )


def cmd_operators(args: argparse.Namespace) -> None:
    operators = fom.list_operators()
    if args.json:
        print_json([asdict(info) for info in operators])
        return
    print_table(
        ["operator", "runtime", "enabled", "delegated", "minimum role", "minimum dataset permission"],
        [
            [i.uri, i.runtime, i.enabled, i.delegation_capable, i.minimum_role, i.minimum_dataset_permission]
            for i in operators
        ],
    )


def cmd_policy(args: argparse.Namespace) -> None:
    _show_plugin(
        fom.set_plugin_operator_policy(
            args.name, args.operator, args.execution_timeout, args.on_reset, args.max_attempts
        ),
        args.json,
    )


def cmd_info(args: argparse.Namespace) -> None:
    _show_plugin(fom.get_plugin_info(args.name), args.json)


def cmd_enable(args: argparse.Namespace) -> None:
    if args.operator:
        info = fom.set_plugin_operator_enabled(args.name, args.operator, enabled=args.enabled)
    else:
        info = fom.set_plugin_enabled(args.name, args.enabled)
    _show_plugin(info, args.json)


def cmd_perms(args: argparse.Namespace) -> None:
    _show_plugin(
        fom.set_plugin_operator_permissions(args.name, args.operator, args.role, args.dataset_permission), args.json
    )


def cmd_org(args: argparse.Namespace) -> None:
    if args.role or args.dataset_permission:
        settings = fom.set_organization_settings(args.role, args.dataset_permission)
    else:
        settings = fom.get_organization_settings()
    data = {k: v.name for k, v in asdict(settings).items()}
    print_json(data) if args.json else print_table(["setting", "value"], sorted(data.items()))


def _users_table(users, as_json: bool) -> None:
    rows = [
        {"name": u.name, "role": u.role.name, "datasets": {k: v.name for k, v in u.datasets.items()}} for u in users
    ]
    if as_json:
        print_json(rows)
    else:
        print_table(["name", "role", "dataset grants"], [[r["name"], r["role"], r["datasets"] or ""] for r in rows])


def cmd_users(args: argparse.Namespace) -> None:
    _users_table(fom.list_users(), args.json)


def cmd_user_create(args: argparse.Namespace) -> None:
    _users_table([fom.create_user(args.name, args.role)], args.json)


def cmd_user_role(args: argparse.Namespace) -> None:
    _users_table([fom.set_user_role(args.name, args.role)], args.json)


def cmd_user_grant(args: argparse.Namespace) -> None:
    _users_table([fom.grant_dataset_permission(args.name, args.dataset, args.permission)], args.json)
