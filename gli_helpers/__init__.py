"""gli_helpers: reproduction package for Guided Loss-Increasing (GLI) machine unlearning.

Data loaders (MUFAC, MUCAC, an embedded synthetic face benchmark), models,
training, metrics, GLI and seven baselines, and plots. The notebooks in
``notebooks/`` are thin layers over this package.
"""

__version__ = "0.1.0"
