"""The names the command line offers, in a module that imports nothing heavy, so that ``--help`` and a wrong name
are answered without loading torch or pandas. Each list is the one its module uses (models, gli_ablations,
doc_tables), and tests/test_cli.py checks that they agree."""

from __future__ import annotations

ARCHS = ("resnet18", "wide_resnet50_2", "efficientnet_b0")  # what models.build_model builds

# gli-ablations: name -> GLI settings on top of the authors' loop (quirks="authors"); "honest" is the package's
# default GLI
GLI_VARIANTS = {
    "authors": {},
    "authors_batch1_eval": {"first_batch_train": False},
    "distance_only": {"objective": "distance"},
    "task_only": {"objective": "task"},
    "alpha_0.02": {"alpha": 0.02},
    "alpha_0.04": {"alpha": 0.04},
    "honest": {"quirks": "none", "bn_eval": False},
    # the authors' loop with one of its settings as the honest GLI has it (lr 0.001 without momentum is the same in
    # both, so it is not among them)
    "authors_bn_train": {"bn_eval": False},
    "authors_fixed_forget": {"recompute_forget": False},
    "authors_no_skip": {"skip_short_forget": False},
    # the honest GLI with one of the authors' settings
    "honest_bn_eval": {"quirks": "none", "bn_eval": True},
    "honest_batch1_train": {"quirks": "none", "bn_eval": False, "first_batch_train": True},
    "honest_recompute_forget": {"quirks": "none", "bn_eval": False, "recompute_forget": True},
    "honest_skip_short": {"quirks": "none", "bn_eval": False, "skip_short_forget": True},
}

PUSH_FROM = ("forget", "retain", "nonmember", "noise")  # GLI's push_from (unlearning/gli.py)

TABLE_NAMES = ("verdict", "dedup", "tuned", "ablations-48", "ablations-64", "ablations-128", "step-ratios",
               "methods-128-honest", "methods-128-authors", "audit", "audit-faces", "published-inconsistent",
               "controls-48", "relearn-48", "relearn-48-lr0.001", "field-48")
