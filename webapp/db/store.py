"""SQLAlchemy models and queries. SQLite in the data dir by default; any SQLAlchemy URL works.

No Flask here: the trainer processes and RQ workers use the same Store.
"""

import contextlib
from datetime import datetime, timezone

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


def utcnow():
    """Give the current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """The declarative base of every table."""


class User(Base):
    """An account; every run and uploaded dataset has one as its owner."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="member")
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session's id: raising it ends every session signed in before (logout, new
    # password, disable), so a copied cookie stops working on the server, not only in one browser.
    session_gen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    """An uploaded dataset: its arrays live in the data dir, its description here."""

    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    meta: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One training run and where it stands (see runs/service.py for the states)."""

    __tablename__ = "runs"
    # One run per trial of a sweep, whichever scheduler submits it (plain runs have no sweep: NULLs differ).
    __table_args__ = (UniqueConstraint("sweep_id", "sweep_trial", name="uq_runs_sweep_trial"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    dataset: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON)
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    epochs_planned: Mapped[int] = mapped_column(Integer, default=0)
    history: Mapped[dict] = mapped_column(JSON, default=dict)
    summary: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[dict | None] = mapped_column(JSON)          # the last batch event of this epoch
    worker: Mapped[str | None] = mapped_column(String(128))       # [RQ worker name@]host:pid of the process training it
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id", ondelete="SET NULL"), index=True)
    sweep_trial: Mapped[int | None] = mapped_column(Integer)      # the Optuna trial number this run trains
    # Fine-tuning phases: [{"epoch", "unfreeze", "learning_rate", "note"}], each from the epoch it began at.
    phases: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)    # the queue is in this order
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Weights(Base):
    """An uploaded weights file for one keras.applications backbone; the file lives in the data dir's weights/."""

    __tablename__ = "weights"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    model: Mapped[str] = mapped_column(String(64))          # the application type, e.g. MobileNetV2
    name: Mapped[str] = mapped_column(String(200))          # the file's name as uploaded
    args: Mapped[dict] = mapped_column(JSON)                # the arguments it was checked with (alpha...)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sweep(Base):
    """A search over a run spec's fields (sweeps/): its Optuna study lives in the same database."""

    __tablename__ = "sweeps"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    config: Mapped[dict] = mapped_column(JSON)                   # base, space, objective, sampler, pruner, parallel
    trials_planned: Mapped[int] = mapped_column(Integer)
    study_name: Mapped[str] = mapped_column(String(64), unique=True)
    importance: Mapped[dict | None] = mapped_column(JSON)        # Optuna's, at the last trial's end
    error: Mapped[str | None] = mapped_column(Text)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Which web process schedules it, until when: one at a time, and another takes over a lapsed lease.
    lease: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class RunEvent(Base):
    """One streamed event of a run, stored before it is sent; `seq` rises by one per event."""

    __tablename__ = "run_events"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A token a script sends as `Authorization: Bearer`; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()        # None: never (asked for outright)


class Share(Base):
    """A read-only link to one run, or to one sweep and its trials' runs; revoked links stay, marked, so
    the record of who shared remains. Exactly one of run_id and sweep_id is set."""

    __tablename__ = "shares"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Action(Base):
    """Who did what: a run created, stopped, continued, shared, deleted; a user added or changed."""

    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Store:
    """The database: an engine and a session factory for one SQLAlchemy URL."""

    def __init__(self, url):
        sqlite = url.startswith("sqlite")
        self.engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {})
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self):
        """Create the tables that do not exist yet."""
        Base.metadata.create_all(self.engine)

    @contextlib.contextmanager
    def session(self):
        """Give a session that commits on success and rolls back on error."""
        with self.Session() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def datasets(self):
        """Give every uploaded dataset, oldest first."""
        with self.session() as s:
            return list(s.scalars(select(Dataset).order_by(Dataset.created_at)))


def _sqlite_pragmas(conn, _record):
    # WAL lets the web process read while a trainer writes; foreign keys are off by default. With
    # WAL, synchronous=NORMAL syncs at checkpoints rather than at every commit: a crash of any process
    # loses nothing, a power cut the last events; a trainer's events cost half the CPU (bench/runs.py).
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
