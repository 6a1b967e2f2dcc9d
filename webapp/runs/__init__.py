"""A run's life: the service (create, queue, stop, continue), the journal of its events, the
executors (local processes, RQ workers), the trainer and its callbacks and recorders, a run's files.

It may import `db/`, `modelspec/`, `datasets/` and `predict/`; never Flask. Keras only in the
trainer's modules (`trainer`, `feed`, `callbacks`, `startup`, `local`), inside a trainer process.
"""
