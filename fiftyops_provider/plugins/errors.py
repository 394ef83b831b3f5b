"""Plugin-side exceptions: each says what went wrong and what to do about it."""

from __future__ import annotations


class PluginError(Exception):
    """Base class of plugin, operator and permission errors."""


class InvalidPlugin(PluginError):
    """A plugin directory or archive that cannot be installed (bad yml, hostile archive, import error)."""


class PluginNotFound(PluginError):
    pass


class PluginAlreadyInstalled(PluginError):
    """An install of a plugin that is installed already, without asking to upgrade it. ``name``
    lets each entry point say how to upgrade in its own words (SDK argument, CLI command)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"Plugin {name} is already installed; pass overwrite=True to upgrade it.")


class OperatorNotFound(PluginError):
    pass


class OperatorDisabled(PluginError):
    """The plugin or the operator is disabled, or it does not allow delegated execution."""


class PermissionDenied(PluginError):
    """The acting user's role or dataset permission is below what the action requires."""


class InvalidParams(PluginError):
    """Operator inputs that do not match what ``resolve_input`` declares.

    ``problems`` lists ``(path, reason)`` pairs, like FiftyOne's validation context.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        details = "; ".join(f"{path}: {reason}" for path, reason in problems)
        super().__init__(f"Invalid operator inputs: {details}")


class OperationTerminated(Exception):
    """Raised by ``ctx.check_for_termination()`` when the operation was asked to stop.

    Operators may catch it to save partial work, and should then re-raise it.
    """
