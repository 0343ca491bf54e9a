"""Unlearning methods behind one interface: ``get_method(name).unlearn(model, data, config, on_step=None)`` returns
(the model, its report); each method's module holds ``unlearn(run)`` (``common.Run``) and its configuration.

``METHODS`` maps each registry name to its module and configuration class; ``get_method`` and
``default_config`` raise an error listing the valid names for an unknown one. ``original`` and
``retrained`` are the reference rows (no unlearning; the Retrained model is trained from scratch).
"""

from __future__ import annotations

import importlib
from functools import cached_property

from ..errors import ConfigError

# Names this package re-exports from its modules, imported on first use: the registry itself (names, labels,
# positions of the package's methods) loads no torch, so that a wrong method name is refused at once.
_LAZY = {"EarlyStop": "common", "MethodConfig": "common", "Run": "common", "UnlearnData": "common",
         "gli_perturb": "gli"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Method:
    """A registry entry: a method module (or the name of one of this package's, imported on first use), its name,
    its label and row in tables (the module's LABEL and POSITION unless given) and the settings it pins."""

    def __init__(self, name: str, module, label: str | None = None, position: float | None = None,
                 fixed: tuple = ()):
        self.name, self._module, self._label, self._position, self.fixed = name, module, label, position, tuple(fixed)

    @classmethod
    def of(cls, module, name: str | None = None, label: str | None = None, position: float | None = None,
           fixed: tuple = ()) -> Method:
        """A registry entry from a method module, or the name of a module of this package."""
        default = module if isinstance(module, str) else module.__name__.rsplit(".", 1)[-1]
        return cls(name or default, module, label, position, fixed)

    @cached_property
    def module(self):
        if isinstance(self._module, str):
            return importlib.import_module(f".{self._module}", __name__)
        return self._module

    @cached_property
    def config_class(self) -> type:
        """The module's configuration dataclass (the one it defines that extends MethodConfig)."""
        from .common import MethodConfig
        return next(v for v in vars(self.module).values()
                    if isinstance(v, type) and issubclass(v, MethodConfig) and v is not MethodConfig
                    and v.__module__ == self.module.__name__)

    @property
    def label(self) -> str:
        """Its name in tables and figures."""
        return self._label or self.module.LABEL

    @property
    def position(self) -> float:
        """Its row in tables and figures."""
        return self.module.POSITION if self._position is None else self._position

    @property
    def search_space(self) -> dict:
        """What ``tune`` searches: setting -> (kind, low, high), declared in the method's module."""
        return dict(getattr(self.module, "SEARCH_SPACE", {}))

    def unlearn(self, model, data, config, on_step=None) -> tuple[object, dict]:
        """Unlearn ``model`` in place with ``config``: (the model, its report). ``on_step(step, model)`` is called
        after every optimizer step (with an ``info`` keyword holding the step's diagnostics when the method records
        some: GLI's ``diagnostics``). Checkpoint selection (``config.selection``) may stop it early and restores the
        chosen weights."""
        from .common import EarlyStop, Run
        if not isinstance(config, self.config_class):
            raise ConfigError(f"{self.name} takes a {self.config_class.__name__}, got a {type(config).__name__}.")
        run = Run(model, data, config, on_step)
        try:
            returned = self.module.unlearn(run)
        except EarlyStop:
            returned = None
        if returned is not None:
            raise ConfigError(f"{self.name}'s unlearn(run) returned a value; a method records what it wants kept "
                              "in run.report (kept when checkpoint selection stops it early) and returns nothing.")
        return model, run.finish()

    def __repr__(self) -> str:
        return f"Method({self.name!r})"


# Adding a method: one module (``unlearn(run)``, its configuration dataclass with its range rules, LABEL, POSITION
# and SEARCH_SPACE) and one line here. Entries with ``fixed`` settings are variants of another method: they are run
# and tabled, but not ranked among the distinct methods (``distinct_methods()``, what ``all`` stands for).
METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry (its name must be new); returns it. The package's own methods are the lines
    below; a user's module can be added the same way (docs/EXTENDING.md)."""
    if method.name in METHODS or method.name in REFERENCES or method.name in ("all", "paper", "ablation"):
        raise ConfigError(f"a method named {method.name!r} already exists; choose another name.")
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method added with ``register`` (e.g. a throw-away one in a test)."""
    METHODS.pop(name, None)


REFERENCES = {"original": ("Original", 0), "retrained": ("Retrained", 1)}  # name -> (label, position)
for _entry in (
    Method.of("finetune"),
    Method.of("cf_k"),
    Method.of("eu_k"),
    Method.of("neggrad"),
    Method.of("unsir"),
    Method.of("scrub"),
    Method.of("bad_teaching"),
    Method.of("gli"),
    Method.of("gli", "gli_l1", "GLI (L1)", 9.1, (("distance", "l1"),)),
    Method.of("gli", "gli_cosine", "GLI (cosine)", 9.2, (("distance", "cosine"),)),
    Method.of("neggrad_plus"),
    Method.of("l1_sparse"),
    Method.of("random_labels"),
    Method.of("salun"),
    Method.of("ssd"),
):
    register(_entry)


def distinct_methods() -> tuple[str, ...]:
    """The registry's distinct methods (no fixed-setting variants), in table order: what ``all`` runs and what
    rankings count."""
    return tuple(sorted((n for n, m in METHODS.items() if not m.fixed), key=lambda n: METHODS[n].position))


# The paper's comparison (GLI and its seven baselines), fixed by the paper: what ``paper`` stands for; and the
# field's current baselines that protocol 2b adds (results/mufac/PROTOCOL.md).
PAPER_METHODS = ("finetune", "cf_k", "eu_k", "neggrad", "unsir", "scrub", "bad_teaching", "gli")
FIELD_METHODS = ("neggrad_plus", "l1_sparse", "random_labels", "salun", "ssd")


def method_label(name: str) -> str:
    """The label of a method or reference row; an unknown name is its own label (never dropped)."""
    if name in REFERENCES:
        return REFERENCES[name][0]
    return METHODS[name].label if name in METHODS else str(name)


def method_order(names) -> list[str]:
    """``names`` (each once) in table order: the references, the registry's methods by position, then any
    unknown names alphabetically, so that no row ever drops out of a table or figure."""
    def key(n):
        if n in REFERENCES:
            return (0, REFERENCES[n][1], "")
        return (0, METHODS[n].position, "") if n in METHODS else (1, 0, str(n))
    return sorted(dict.fromkeys(names), key=key)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown unlearning method {name!r}; valid: {', '.join(METHODS)} "
                          f"(and the reference rows {', '.join(REFERENCES)}).")
    return METHODS[name]


def default_config(name: str, task: str, binary: bool = False, procedure: str = "default", **overrides):
    """The configuration of ``name`` for a task (``binary``: the benchmark's binary task) under ``procedure``, with
    overrides: the layers of ``settings.resolve``, contradictions refused."""
    from .settings import resolve
    return resolve(get_method(name), task, binary, procedure, overrides)


def parse_methods(spec: str) -> list[str]:
    """A comma list of names, where ``all`` stands for the registry's distinct methods, ``paper`` for the paper's
    eight (GLI and its seven baselines) and ``ablation`` for GLI with l2, l1 and cosine distances (e.g.
    ``paper,ablation``)."""
    tokens = [s.strip() for s in spec.split(",")]
    for token in tokens:  # every explicit name first: a wrong one is refused before ``all`` imports the methods
        if token and token not in ("all", "paper", "ablation") and token not in REFERENCES:
            get_method(token)
    names = []
    for token in tokens:
        expanded = (list(distinct_methods()) if token == "all" else list(PAPER_METHODS) if token == "paper"
                    else ["gli", "gli_l1", "gli_cosine"] if token == "ablation" else [token] if token else [])
        for n in expanded:
            if n not in names:
                names.append(n)
    if not names:
        raise ConfigError("no methods given; use all, paper, ablation, or a comma list such as gli,finetune.")
    return names


__all__ = ["FIELD_METHODS", "METHODS", "PAPER_METHODS", "REFERENCES", "Method", "MethodConfig", "Run", "UnlearnData",
           "default_config", "distinct_methods", "get_method", "gli_perturb", "method_label", "method_order",
           "parse_methods", "register", "unregister"]


def parse_method_overrides(text: str | None) -> dict:
    """The ``--method-config`` JSON: ``{"<method>": {"<setting>": value, ...}, ...}``, checked against the registry."""
    import json
    if not text:
        return {}
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as exc:
        example = '{"gli": {"perturbation_steps": 3}}'
        raise ConfigError(f"--method-config is not valid JSON ({exc}); write e.g. '{example}'.") from None
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ConfigError('--method-config must map method names to settings, e.g. {"gli": {"perturbation_steps": 3}}.')
    for name in overrides:
        get_method(name)
    return overrides
