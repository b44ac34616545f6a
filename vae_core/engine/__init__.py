"""The engine: configs, models, losses, data, training, evaluation and checkpoints; it imports nothing above it.

The layers of vae_core, each importing only downward (the contracts in pyproject.toml, checked by lint-imports):
zoo (specs, model card, CLI) > serving (jobs, uploads, exports) > lessons (each lesson's maths) > engine.
"""
