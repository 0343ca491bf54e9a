"""Where a method's settings come from, in one place.

Five layers, each overriding the ones before it:

1. the method's defaults for the task (``MethodConfig.task_defaults``: the paper's values);
2. its quirk set (GLI's ``quirks``: ``"authors"`` is the authors' loop);
3. the procedure (``PROCEDURES``: the same settings for every method of a run);
4. the run's own settings for the method (``--method-config``);
5. the settings a registry entry pins (GLI (L1) and GLI (cosine) fix ``distance``).

A later layer may fill in what an earlier one left open, but it may not contradict a procedure or a pinned
value: ``--procedure honest`` with ``{"gli": {"quirks": "authors"}}`` would silently run a hybrid of the two
(BatchNorm trains and no checkpoint is chosen, yet batch 1 runs in train mode and the forget logits are
recomputed), so it is refused with a message naming both sides, as is ``{"gli_l1": {"distance": "l2"}}``.
"""

from __future__ import annotations

from ..errors import ConfigError

PROCEDURES = {  # settings applied to every method of a run
    "default": {},  # each method's defaults (selection: a validation split when the benchmark has one)
    "honest": {"selection": "none", "bn_eval": False, "augment": True},  # the final model; BatchNorm trains
    "authors": {"selection": "on_test", "bn_eval": True, "augment": True},  # chosen per step on test/unseen; BN frozen
}


def check_procedure(procedure: str) -> dict:
    if procedure not in PROCEDURES:
        raise ConfigError(f"unknown procedure {procedure!r}; valid: {', '.join(PROCEDURES)}.")
    return PROCEDURES[procedure]


def quirk_settings(config_class, overrides: dict) -> tuple[str, dict]:
    """(the quirk set's name, its settings) that ``overrides`` asks for; ("none", {}) for a method without."""
    sets = getattr(config_class, "QUIRK_SETS", None)
    if not sets:
        return "none", {}
    name = overrides.get("quirks", "none")
    if name not in sets:
        raise ConfigError(f"unknown quirk set {name!r}; valid: {', '.join(sets)}.")
    return name, dict(sets[name])


def resolve(method, task: str, binary: bool = False, procedure: str = "default", overrides: dict | None = None):
    """The configuration of registry entry ``method`` (a ``Method``) for ``task`` under ``procedure`` with the run's
    ``overrides`` for it, built from the five layers above; contradictions are refused before anything runs."""
    overrides = dict(overrides or {})
    proc = check_procedure(procedure)
    fixed = dict(method.fixed)
    for key, value in overrides.items():
        if key in fixed and fixed[key] != value:
            raise ConfigError(f"{method.name} always runs with {key}={fixed[key]!r} (that is what the entry is); the "
                              f"method settings ask for {key}={value!r}. Run {method.module.__name__.rsplit('.', 1)[-1]} "
                              f"with {key}={value!r} instead, or drop the setting.")
        if key in proc and proc[key] != value:
            raise ConfigError(f"--procedure {procedure} sets {key}={proc[key]!r} for every method, but the settings of "
                              f"{method.name} ask for {key}={value!r}; drop that setting, or use --procedure default "
                              "and give every setting yourself.")
    quirks, quirk_values = quirk_settings(method.config_class, overrides)
    clashes = [f"{k}={quirk_values[k]!r} (procedure: {proc[k]!r})" for k in quirk_values
               if k in proc and proc[k] != quirk_values[k]]
    if clashes:
        raise ConfigError(f"the quirk set {quirks!r} of {method.name} contradicts --procedure {procedure}: it sets "
                          f"{', '.join(clashes)}. Run it under a procedure that agrees (e.g. --procedure authors for "
                          f"the authors' loop), or under --procedure default.")
    return method.config_class.for_task(task, binary, **{**quirk_values, **proc, **overrides, **fixed})
