"""The dashboard's web application: HTML pages, the JSON API behind them, static files.

:func:`create_app` builds a FastAPI application over one storage. Pages are static HTML shells
whose scripts fetch the API; no user-supplied string is ever put into HTML by the server, and the
scripts insert them as text (``textContent``), never as markup. Every page is served with a
Content-Security-Policy that forbids inline and foreign scripts.

Read-only unless ``allow_write``: the write endpoints (rename, delete, note, exclude a trial) are
not even registered otherwise, so they answer 404 and are absent from ``/openapi.json``. When they
are, they only accept ``application/json`` bodies from the same origin (a cross-site form cannot
send JSON without a CORS preflight, which this server never grants). Requests whose ``Host`` is not
one of this server's names are refused (DNS-rebinding protection).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.middleware.gzip import GZipMiddleware

from nas import __version__
from nas._attrs import EXCLUDED_ATTR, NOTE_ATTR
from nas._types import FrozenTrial
from nas.dashboard import _data
from nas.dashboard._bundle import load_bundle
from nas.dashboard._table import FilterError, compile_filter, resolve_field, sort_trials
from nas.dashboard._view import StudyView, Views, is_nas_study
from nas.exceptions import DuplicatedStudyError, NasError, StudyNotFoundError
from nas.storage import RDBStorage, get_storage

__all__ = ["create_app"]

_STATIC = Path(str(resources.files("nas.dashboard") / "static"))
#: The vendored partial plotly.js bundle (one per process, whatever the number of apps): its main
#: entry's URL is what every page with a plot preloads.
BUNDLE = load_bundle()
PLOTLY_URL = BUNDLE.url(BUNDLE.main)

_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_MAX_PAGE = 500
_MAX_ID = 2**31 - 1  # ids and numbers are 32-bit integer columns
StudyId = Annotated[int, PathParam(ge=0, le=_MAX_ID, description="study id (see /api/studies)")]
TrialNumber = Annotated[int, PathParam(ge=0, le=_MAX_ID, description="trial number in the study")]
ArtifactId = Annotated[int, PathParam(ge=0, le=_MAX_ID, description="artifact id")]


def _json(payload: Any, status: int = 200) -> Response:
    """A compact JSON response (the API's big documents skip pydantic re-validation)."""
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str)
    return Response(body, status_code=status, media_type="application/json")


# ---------------------------------------------------------------------------- API models
# For the OpenAPI document (/docs); the handlers return the documented shapes.


class ObjectiveModel(BaseModel):
    name: str
    direction: str


class StudyItemModel(BaseModel):
    """One study of ``GET /api/studies``."""

    id: int
    name: str
    objectives: list[ObjectiveModel]
    searcher: str
    states: dict[str, int] = Field(description="trials per state")
    n_trials: int
    created: str
    last_update: str = Field(description="latest write to any of its trials (ISO 8601 UTC)")


class BestModel(BaseModel):
    number: int
    value: float | None


class StudyDetailModel(BaseModel):
    """``GET /api/studies/{id}``: definition, counts and results."""

    id: int
    name: str
    objectives: list[ObjectiveModel]
    searcher: dict[str, Any]
    seed: int
    space: dict[str, Any]
    params: list[str]
    user_attrs: dict[str, Any]
    note: str
    is_nas: bool
    states: dict[str, int]
    n_trials: int
    n_excluded: int
    constraints: list[str] | None = Field(
        default=None, description="the study's constraints as labels; null if unconstrained"
    )
    n_feasible: int = Field(default=0, description="trials satisfying every constraint")
    budgets: list[float]
    created: str
    last_update: str
    best: BestModel | None = Field(description="single-objective studies: best final trial")
    pareto_size: int | None = Field(description="multi-objective studies: size of the front")
    n_final: int = Field(description="COMPLETE included trials at the largest budget")
    seq: int


class TrialRowModel(BaseModel):
    number: int
    state: str
    values: list[float | None] = Field(description="in objective order; null if none")
    params: dict[str, Any]
    budget: float | None
    duration: float | None = Field(description="seconds")
    started: str | None
    completed: str | None
    excluded: str | None = Field(description="why the trial is excluded, null if included")
    feasible: bool | None = Field(
        default=None, description="all constraints satisfied; null when unconstrained/unfinished"
    )
    violation: float | None = Field(default=None, description="total constraint violation")
    arch: str | None = None


class TrialPageModel(BaseModel):
    """``GET /api/studies/{id}/trials``: one page of the filtered, sorted trials."""

    total: int = Field(description="trials matching the filter")
    n_trials: int = Field(description="trials in the study")
    offset: int
    limit: int
    objectives: list[ObjectiveModel]
    params: list[str]
    rows: list[TrialRowModel]


class ColumnsModel(BaseModel):
    number: list[int]
    state: list[str]
    values: list[list[float | None]]
    budget: list[float | None]
    excluded: list[bool]
    feasible: list[bool | None] | None = None
    arch: list[str | None] | None = None


class DataModel(BaseModel):
    """``GET /api/studies/{id}/data`` and ``/changes``: trials as aligned columns."""

    cursor: str = Field(description="pass to /changes to get what changed after this")
    reset: bool = Field(description="true: the cursor was unknown; these are all trials")
    study_changed: bool
    n_trials: int
    trials: ColumnsModel


class ParetoModel(BaseModel):
    objectives: list[ObjectiveModel]
    seq: int = Field(description="change number of the trials it was computed from")
    n_final: int
    numbers: list[int]
    trials: list[TrialRowModel]


class RenameBody(BaseModel):
    name: str = Field(min_length=1, max_length=512)


class NoteBody(BaseModel):
    note: str = Field(max_length=100_000)


class ExcludeBody(BaseModel):
    excluded: bool
    reason: str = Field(default="", max_length=2000)


# ---------------------------------------------------------------------------- app


def create_app(
    storage: str | RDBStorage,
    *,
    allow_write: bool = False,
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "[::1]"),
    poll_seconds: float = 2.0,
    preload: bool = True,
) -> FastAPI:
    """The dashboard application over ``storage``.

    Args:
        storage: URL or storage; the schema must be at the current revision.
        allow_write: register the write endpoints (rename/delete a study, set its note, exclude
            or include a trial).
        allowed_hosts: accepted ``Host`` header names (port ignored); ``("*",)`` accepts any
            (a server bound to a public address).
        poll_seconds: how often pages poll for changes.
        preload: load the most recently updated studies into memory in a background thread,
            so that the first visit of a large study is as fast as the next ones.
    """
    store = get_storage(storage)
    views = Views(store)
    threading.Thread(target=BUNDLE.warm, daemon=True, name="nas-plotly-gzip").start()
    if preload:
        threading.Thread(target=views.preload, daemon=True, name="nas-preload").start()

    app = FastAPIOffline(
        title="nas dashboard",
        description=(
            "Read-only JSON API over a nas storage (write endpoints only with "
            "`nas dashboard --allow-write`). Studies are addressed by id."
        ),
        version=__version__,
        static_url="/static/docs",
    )
    # Level 1: 8 ms instead of 66 ms for 10k trials' columns, for 4% more bytes.
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=1)

    hosts = {h.lower() for h in allowed_hosts}

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = (request.headers.get("host") or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if "*" not in hosts and name not in hosts:
            return JSONResponse({"detail": f"host {host!r} not allowed"}, status_code=400)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin is not None and origin.split("//", 1)[-1].lower() != host:
                return JSONResponse({"detail": "cross-origin write refused"}, status_code=403)
            if not request.headers.get("content-type", "").startswith("application/json"):
                return JSONResponse(
                    {"detail": "write requests must send application/json"}, status_code=415
                )
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.exception_handler(StudyNotFoundError)
    async def _missing(request: Request, exc: StudyNotFoundError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(FilterError)
    @app.exception_handler(_data.DataError)
    async def _bad(request: Request, exc: NasError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # ------------------------------------------------------------------ pages
    # What the pages' scripts read (embedded as JSON in each page, and at /api/config).
    client_config = {
        "poll_ms": int(poll_seconds * 1000),
        "allow_write": allow_write,
        "plotly": BUNDLE.client_config(),
    }
    # Pages with plots fetch plotly.js while their API requests run, and evaluate it only once
    # their table is on screen (static/common.js plotlyReady).
    preload_links = "\n".join(
        f'<link rel="modulepreload" href="{url}">' for url in BUNDLE.preload_urls()
    )
    pages = {
        name: (_STATIC / name)
        .read_text(encoding="utf-8")
        .replace("{{PLOTLY_PRELOAD}}", preload_links)
        .replace("{{CONFIG}}", json.dumps(client_config))
        for name in ("index.html", "study.html", "trial.html")
    }

    def page(name: str) -> Response:
        return Response(pages[name], media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    @app.get("/", include_in_schema=False)
    def index_page() -> Response:
        return page("index.html")

    @app.get("/studies/{study_id}", include_in_schema=False)
    def study_page(study_id: StudyId) -> Response:
        return page("study.html")

    @app.get("/studies/{study_id}/trials/{number}", include_in_schema=False)
    def trial_page(study_id: StudyId, number: TrialNumber) -> Response:
        return page("trial.html")

    @app.get(BUNDLE.base_url + "/{name}", include_in_schema=False)
    def plotly_bundle(request: Request, name: str) -> Response:
        try:
            raw, gz = BUNDLE.load(name)
        except KeyError:
            raise HTTPException(404, f"no file {name!r} in the plotly.js bundle") from None
        # Vary: the bytes depend on Accept-Encoding; a shared cache must not mix them up.
        headers = {
            "Cache-Control": "public, max-age=31536000, immutable",
            "Vary": "Accept-Encoding",
        }
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(gz, media_type="text/javascript", headers=headers)
        return Response(raw, media_type="text/javascript", headers=headers)

    app.mount("/static", StaticFiles(directory=_STATIC), name="static")

    # ------------------------------------------------------------------ read API
    @app.get("/api/studies", response_model=list[StudyItemModel], tags=["studies"])
    def list_studies() -> Response:
        """Every study: objectives, searcher, trials per state, last update."""
        return _json([_data.study_item(s) for s in store.list_studies()])

    @app.get("/api/studies/{study_id}", response_model=StudyDetailModel, tags=["studies"])
    def study_summary(study_id: StudyId) -> Response:
        """Definition, trial counts, best value (one objective) or Pareto size (several)."""
        return _json(_data.study_detail(views.get(study_id)))

    @app.get("/api/studies/{study_id}/trials", response_model=TrialPageModel, tags=["trials"])
    def trials_page(
        study_id: StudyId,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=_MAX_PAGE)] = 50,
        sort: Annotated[str, Query(description="a field name (see filter)")] = "number",
        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
        filter: Annotated[
            str,
            Query(
                description=(
                    "clauses joined by `and`, e.g. `error < 0.1 and optimizer == adam and "
                    "state in (COMPLETE, PRUNED)`; fields: number, state, budget, duration, "
                    "worker, restarts, excluded, arch, objective names, parameter names, "
                    "values.NAME, params.NAME, attrs.KEY; operators == != < <= > >= ~ in"
                )
            ),
        ] = "",
    ) -> Response:
        """One page of the study's trials, filtered and sorted on the server."""
        view = views.get(study_id)
        record = view.record
        assert record is not None
        params = _data.param_names(record)
        predicate = compile_filter(filter, record.objectives, params)
        field = resolve_field(sort, record.objectives, params)

        def select(record: Any, trials: list[Any]) -> tuple[int, list[Any]]:
            matching = [t for t in trials if predicate(t)] if filter.strip() else trials
            if sort == "number":  # the snapshot is in number order already
                ordered = matching[::-1] if order == "desc" else matching
            else:
                ordered = sort_trials(matching, field, descending=order == "desc")
            return len(trials), ordered

        # Paging through the same query reuses its filtered, sorted list until the study changes.
        n_trials, ordered = view.derived(("table", filter.strip(), sort, order), select)
        nas = is_nas_study(record)
        return _json(
            {
                "total": len(ordered),
                "n_trials": n_trials,
                "offset": offset,
                "limit": limit,
                "objectives": [_data.objective_json(o) for o in record.objectives],
                "params": params,
                "rows": [
                    _data.trial_row(t, record.objectives, nas)
                    for t in ordered[offset : offset + limit]
                ],
            }
        )

    @app.get("/api/studies/{study_id}/trials/{number}", tags=["trials"])
    def trial(study_id: StudyId, number: TrialNumber) -> Response:
        """Everything about one trial: params, values, intermediate values, attributes, failure
        reason, artifacts (download stored ones from ``/api/artifacts/{id}``)."""
        view = views.get(study_id)
        t = _trial_or_404(view, number)
        record = view.record
        assert record is not None
        artifacts = store.get_artifacts(study_id, t.trial_id)
        return _json(_data.trial_detail(t, record, artifacts))

    @app.get("/api/studies/{study_id}/data", response_model=DataModel, tags=["trials"])
    def data(study_id: StudyId) -> Response:
        """Every trial as aligned columns (number, state, values, budget, excluded, arch), and
        the cursor to poll ``/changes`` with."""
        view = views.get(study_id)
        record, trials, seq = view.snapshot()
        return _json(
            {
                "cursor": f"{views.instance}.{seq}",
                "reset": True,
                "study_changed": True,
                "n_trials": len(trials),
                "trials": _data.columns(trials, record.objectives, is_nas_study(record)),
            }
        )

    @app.get("/api/studies/{study_id}/changes", response_model=DataModel, tags=["trials"])
    def changes(
        study_id: StudyId,
        cursor: Annotated[str, Query(description="the cursor of the last /data or /changes")],
    ) -> Response:
        """The trials created or updated since ``cursor`` (nothing else is read or sent). An
        unknown cursor (a restarted server) answers ``reset: true`` with every trial."""
        view = views.get(study_id)
        instance, _, seq_text = cursor.partition(".")
        if instance != views.instance or not seq_text.isdigit():
            return data(study_id)
        # Read the change number first: a refresh by another request between the two reads
        # then makes the next poll send some trials twice, never skip one.
        seq = view.seq
        changed, study_changed = view.changes(int(seq_text))
        record = view.record
        assert record is not None
        return _json(
            {
                "cursor": f"{views.instance}.{seq}",
                "reset": False,
                "study_changed": study_changed,
                "n_trials": len(view.trials),
                "trials": _data.columns(changed, record.objectives, is_nas_study(record)),
            }
        )

    @app.get("/api/studies/{study_id}/pareto", response_model=ParetoModel, tags=["plots"])
    def pareto(
        study_id: StudyId,
        objectives: Annotated[
            str, Query(description="comma-separated objective names; default: all")
        ] = "",
    ) -> Response:
        """The non-dominated final trials on the chosen objectives (front order: by the first)."""
        names = [n for n in objectives.split(",") if n]
        return _json(_data.pareto(views.get(study_id), names))

    @app.get("/api/studies/{study_id}/plots/history", tags=["plots"])
    def plot_history(study_id: StudyId, objective: str | None = None) -> Response:
        """Value and best-so-far of every included COMPLETE trial, by number."""
        return _json(_data.history(views.get(study_id), objective))

    @app.get("/api/studies/{study_id}/plots/parallel", tags=["plots"])
    def plot_parallel(study_id: StudyId, objective: str | None = None) -> Response:
        """Parallel-coordinates axes (one per parameter) coloured by the objective."""
        return _json(_data.parallel(views.get(study_id), objective))

    @app.get("/api/studies/{study_id}/plots/importance", tags=["plots"])
    def plot_importance(study_id: StudyId, objective: str | None = None) -> Response:
        """fANOVA parameter importances (random forest, scikit-learn) for the objective."""
        return _json(_data.importance(views.get(study_id), objective))

    @app.get("/api/studies/{study_id}/plots/intermediate", tags=["plots"])
    def plot_intermediate(
        study_id: StudyId,
        objective: str | None = None,
        limit: Annotated[int, Query(ge=1, le=_data.MAX_CURVES)] = 500,
    ) -> Response:
        """Learning curves of the latest ``limit`` trials, with budget, bracket and rung."""
        return _json(_data.intermediate(views.get(study_id), objective, limit))

    @app.get("/api/artifacts/{artifact_id}", tags=["trials"])
    def artifact(artifact_id: ArtifactId) -> Response:
        """The content of an artifact stored in the database, as a download."""
        try:
            content = store.read_artifact(artifact_id)
        except KeyError as e:
            raise HTTPException(404, str(e)) from e
        except NasError as e:
            raise HTTPException(409, str(e)) from e
        digest = hashlib.sha256(content).hexdigest()[:12]
        return Response(
            content,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="artifact-{artifact_id}.bin"',
                "ETag": digest,
            },
        )

    @app.get("/api/config", include_in_schema=False)
    def config() -> Response:
        return _json(client_config)

    if allow_write:
        _write_routes(app, store, views)
    return app


def _trial_or_404(view: StudyView, number: int) -> FrozenTrial:
    t = view.trial(number)
    if t is None:
        raise HTTPException(404, f"study {view.study_id} has no trial {number}")
    return t


def _write_routes(app: FastAPI, store: RDBStorage, views: Views) -> None:
    @app.post("/api/studies/{study_id}/rename", tags=["write"])
    def rename(study_id: StudyId, body: Annotated[RenameBody, Body()]) -> Response:
        """Rename the study (409 if the name is taken)."""
        try:
            store.rename_study(study_id, body.name)
        except DuplicatedStudyError as e:
            raise HTTPException(409, str(e)) from e
        except (ValueError, TypeError) as e:
            raise HTTPException(400, str(e)) from e
        views.get(study_id).refresh(force=True)
        return _json({"id": study_id, "name": body.name})

    @app.delete("/api/studies/{study_id}", tags=["write"])
    def delete(study_id: StudyId) -> Response:
        """Delete the study, its trials and artifacts."""
        store.delete_study(study_id)
        views.drop(study_id)
        return _json({"deleted": study_id})

    @app.put("/api/studies/{study_id}/note", tags=["write"])
    def note(study_id: StudyId, body: Annotated[NoteBody, Body()]) -> Response:
        """Set the study's free-text note (shown on its page)."""
        store.set_study_user_attr(study_id, NOTE_ATTR, body.note)
        views.get(study_id).refresh(force=True)
        return _json({"id": study_id, "note": body.note})

    @app.put("/api/studies/{study_id}/trials/{number}/excluded", tags=["write"])
    def exclude(
        study_id: StudyId, number: TrialNumber, body: Annotated[ExcludeBody, Body()]
    ) -> Response:
        """Exclude the trial from the dashboard's plots, best value and Pareto front (or
        include it again). The searcher is not affected."""
        view = views.get(study_id)
        t = _trial_or_404(view, number)
        reason = (body.reason or "excluded from the dashboard") if body.excluded else None
        store.set_trial_user_attr(t.trial_id, EXCLUDED_ATTR, reason)
        view.refresh(force=True)
        view.forget_derived()  # importance too, which may otherwise lag a running study
        return _json({"number": number, "excluded": reason})
