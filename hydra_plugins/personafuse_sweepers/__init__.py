"""personafuse's Hydra sweepers (Hydra finds plugins only in the ``hydra_plugins`` package):
``StudySweeper`` runs several experiments' grids as one sweep (``experiment=paper``);
``ResumableOptunaSweeper`` continues a killed Optuna search (``hparams_search=optuna``)."""
