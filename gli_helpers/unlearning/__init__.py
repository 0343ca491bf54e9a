"""Unlearning methods behind one interface: ``unlearn(model, data, config, on_step=None) -> model``.

``METHODS`` maps each registry name to its module and configuration class; ``get_method`` and
``default_config`` raise an error listing the valid names for an unknown one. ``original`` and
``retrained`` are the reference rows (no unlearning; the Retrained model is trained from scratch).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from . import bad_teaching, cf_k, eu_k, finetune, gli, neggrad, scrub, unsir
from .common import MethodConfig, UnlearnData
from .gli import gli_perturb


@dataclass(frozen=True)
class Method:
    name: str
    module: object
    config_class: type
    fixed: tuple = ()  # settings this registry entry pins (GLI distance variants)

    def unlearn(self, model, data: UnlearnData, config: MethodConfig, on_step=None):
        return self.module.unlearn(model, data, config, on_step)


METHODS = {
    "finetune": Method("finetune", finetune, finetune.FinetuneConfig),
    "cf_k": Method("cf_k", cf_k, cf_k.CFkConfig),
    "eu_k": Method("eu_k", eu_k, eu_k.EUkConfig),
    "neggrad": Method("neggrad", neggrad, neggrad.NegGradConfig),
    "unsir": Method("unsir", unsir, unsir.UNSIRConfig),
    "scrub": Method("scrub", scrub, scrub.SCRUBConfig),
    "bad_teaching": Method("bad_teaching", bad_teaching, bad_teaching.BadTeachingConfig),
    "gli": Method("gli", gli, gli.GLIConfig),
    "gli_l1": Method("gli_l1", gli, gli.GLIConfig, (("distance", "l1"),)),
    "gli_cosine": Method("gli_cosine", gli, gli.GLIConfig, (("distance", "cosine"),)),
}
REFERENCES = ("original", "retrained")
MAIN_METHODS = ("finetune", "cf_k", "eu_k", "neggrad", "unsir", "scrub", "bad_teaching", "gli")


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
           "get_method", "gli_perturb", "parse_methods"]


def parse_method_overrides(text: str | None) -> dict:
    """The ``--method-config`` JSON: ``{"<method>": {"<setting>": value, ...}, ...}``, checked against the registry."""
    import json
    if not text:
        return {}
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--method-config is not valid JSON ({exc}); write e.g. '{{\"gli\": {{\"steps\": 3}}}}'.") from None
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ConfigError('--method-config must map method names to settings, e.g. {"gli": {"steps": 3}}.')
    for name in overrides:
        get_method(name)
    return overrides
