"""Unlearning methods behind one interface: ``unlearn(model, data, config, on_step=None) -> model``.

``METHODS`` maps each registry name to its module and configuration class; ``get_method`` and
``default_config`` raise an error listing the valid names for an unknown one. ``original`` and
``retrained`` are the reference rows (no unlearning; the Retrained model is trained from scratch).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from . import bad_teaching, cf_k, eu_k, finetune, gli, neggrad, scrub, unsir
from .common import EarlyStop, MethodConfig, Run, UnlearnData
from .gli import gli_perturb


@dataclass(frozen=True)
class Method:
    name: str
    module: object
    config_class: type
    label: str  # its name in tables and figures
    position: float  # its row in tables and figures
    fixed: tuple = ()  # settings this registry entry pins (GLI distance variants)

    @classmethod
    def of(cls, module, name: str | None = None, label: str | None = None, position: float | None = None,
           fixed: tuple = ()) -> Method:
        """A registry entry from a method module, which declares its LABEL, POSITION and configuration class."""
        config_class = next(v for v in vars(module).values()
                            if isinstance(v, type) and issubclass(v, MethodConfig) and v is not MethodConfig
                            and v.__module__ == module.__name__)
        return cls(name or module.__name__.rsplit(".", 1)[-1], module, config_class, label or module.LABEL,
                   module.POSITION if position is None else position, fixed)

    @property
    def search_space(self) -> dict:
        """What ``tune`` searches: setting -> (kind, low, high), declared in the method's module."""
        return dict(getattr(self.module, "SEARCH_SPACE", {}))

    def unlearn(self, model, data: UnlearnData, config: MethodConfig, on_step=None):
        """Unlearn with ``config``; ``on_step(step, model)`` is called after every optimizer step (with an
        ``info`` keyword holding the step's diagnostics when the method records some: GLI's ``diagnostics``). Checkpoint
        selection (``config.selection``) may stop it early and restores the chosen weights."""
        run = Run(model, data, config, on_step)
        try:
            self.module.unlearn(model, data, config, run)
        except EarlyStop:
            pass
        run.finish()
        return model


# Adding a method: one module (unlearn, its configuration dataclass, LABEL, POSITION) and one line here.
METHODS = {m.name: m for m in (
    Method.of(finetune),
    Method.of(cf_k),
    Method.of(eu_k),
    Method.of(neggrad),
    Method.of(unsir),
    Method.of(scrub),
    Method.of(bad_teaching),
    Method.of(gli),
    Method.of(gli, "gli_l1", "GLI (L1)", gli.POSITION + 0.1, (("distance", "l1"),)),
    Method.of(gli, "gli_cosine", "GLI (cosine)", gli.POSITION + 0.2, (("distance", "cosine"),)),
)}
REFERENCES = {"original": ("Original", 0), "retrained": ("Retrained", 1)}  # name -> (label, position)
MAIN_METHODS = ("finetune", "cf_k", "eu_k", "neggrad", "unsir", "scrub", "bad_teaching", "gli")


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


def default_config(name: str, task: str, young: bool = False, **overrides) -> MethodConfig:
    """The paper's configuration of ``name`` for a task, with overrides."""
    m = get_method(name)
    return m.config_class.for_task(task, young, **{**overrides, **dict(m.fixed)})


def parse_methods(spec: str) -> list[str]:
    """A comma list of names, where ``all`` stands for the eight methods and ``ablation`` for GLI with
    l2, l1 and cosine distances (e.g. ``all,ablation``)."""
    names = []
    for token in (s.strip() for s in spec.split(",")):
        expanded = list(MAIN_METHODS) if token == "all" else ["gli", "gli_l1", "gli_cosine"] if token == "ablation" \
            else [token] if token else []
        for n in expanded:
            if n not in REFERENCES:
                get_method(n)
            if n not in names:
                names.append(n)
    if not names:
        raise ConfigError("no methods given; use all, ablation, or a comma list such as gli,finetune.")
    return names


__all__ = ["METHODS", "MAIN_METHODS", "REFERENCES", "Method", "MethodConfig", "UnlearnData", "default_config",
           "get_method", "gli_perturb", "method_label", "method_order", "parse_methods"]


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
