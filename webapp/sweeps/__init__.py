"""Sweeps: a run spec with some fields turned into ranges, searched by an Optuna study; each trial is a run.

Owns: space (the request checked, paths into a spec, the corners that bound a trial's cost),
study (Optuna in the project database), service (create, stop, resume), scheduler (the
thread that turns studies into trial runs), views.
May import: db, modelspec, datasets, runs. No Flask: the web layer passes `notify`.
"""
