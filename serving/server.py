"""`mtrec serve`: an HTTP server over the newest pushed model version.

Built on aiohttp (a mature asyncio HTTP server, already pinned in the TFX
environment). One process answers on one core; `mtrec serve --workers N`
runs N of them on one port (serving/workers.py).

Endpoints (JSON in and out; errors are {"error": message} with a 4xx/5xx):

  GET  /healthz                         the process is up
  GET  /readyz                          a model version is loaded (503 until then)
  GET  /v1/models/<name>                TF Serving's model status shape
  POST /v1/models/<name>:predict        TF Serving's predict shape: {"instances": [...]}
                                        or {"inputs": ...}, optional "signature_name"
  GET  /recommend?user=U&k=10&exclude_seen=true
  POST /recommend                       {"users": [...], "k": 10, "exclude_seen": true}
  POST /predict                         {"pairs": [{"user": U, "item": I}, ...]}
  GET  /similar-items?item=I&k=10

`/recommend` answers on the fast path (serving/fast_recommend.py: numpy and
ScaNN's own searcher, inline on the event loop: cheaper than a thread hop)
when the model supports it. Otherwise, and for every other endpoint, the
SavedModel's signatures run in a thread pool (TF releases the GIL in its
ops); recommend calls to the signatures are micro-batched, as TF Serving
batches: while one model call runs, new requests queue, and the next call
answers all of them at once (no timer, so a lone request waits for nothing).

A watcher polls the serving folder; a newer version is loaded beside the
current one and swapped in with one reference assignment, so requests in
flight finish on the version they started with and none is dropped. A version
that fails to load is recorded in the status and the current one keeps serving.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import threading
from typing import Any, Dict, List, Optional

import numpy as np
import orjson
import tensorflow as tf
from aiohttp import web

from mtrec.serving.loader import InvalidKError, PushedModel, UnknownIdError
from mtrec.serving.results import UserRecommendations
from mtrec.serving.versions import model_base_dir, published_versions

log = logging.getLogger("mtrec.serve")


class RequestError(Exception):
    """A bad request: answered with `status` and the message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class ModelHolder:
    """The version being served, and the watcher that replaces it."""

    def __init__(self, serving_dir: str, model_name: str, fast_path: bool = True):
        self.model_name = model_name
        self.fast_path = fast_path
        self.base = model_base_dir(serving_dir, model_name)
        self.current: Optional[PushedModel] = None
        self.failed: Dict[int, str] = {}  # version -> why it could not be loaded
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Loads the newest version if it is newer than the one served."""
        with self._lock:
            versions = published_versions(self.base)
            if not versions:
                return
            newest = versions[-1]
            if (self.current is not None and newest <= self.current.version) or newest in self.failed:
                return
            try:
                model = PushedModel(os.path.join(self.base, str(newest)), fast_path=self.fast_path)
            except Exception as error:  # any load failure: keep serving the current version
                self.failed[newest] = f"{type(error).__name__}: {error}"
                log.error("version %d failed to load, still serving %s: %s", newest,
                          self.current.version if self.current else "nothing", error)
                return
            self.current = model  # one assignment: requests see the old or the new model
            log.info("serving version %d", newest)

    def status(self) -> Dict[str, Any]:
        """TF Serving's GetModelStatusResponse as JSON."""
        statuses = []
        if self.current is not None:
            statuses.append({"version": str(self.current.version), "state": "AVAILABLE",
                             "status": {"error_code": "OK", "error_message": ""}})
        for version, message in sorted(self.failed.items(), reverse=True):
            statuses.append({"version": str(version), "state": "END",
                             "status": {"error_code": "UNKNOWN", "error_message": message}})
        return {"model_version_status": statuses}


# -- request parsing ------------------------------------------------------------

async def _json_body(request: web.Request) -> Dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RequestError(f"the body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object")
    return body


def _int_field(value: Any, name: str) -> int:
    """An integer from JSON or a query string (the model checks its range)."""
    if isinstance(value, str):
        try:
            value = int(value, 10)
        except ValueError:
            raise RequestError(f"{name} must be an integer, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{name} must be an integer, got {value!r}")
    return value


def _bool_field(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise RequestError(f"{name} must be true or false, got {value!r}")


def _id_list(value: Any, name: str, limit: int) -> List[str]:
    if not isinstance(value, list) or not value:
        raise RequestError(f"{name} must be a non-empty list of ids")
    if len(value) > limit:
        raise RequestError(f"{name}: at most {limit} per request, got {len(value)}")
    if not all(isinstance(v, str) and v for v in value):
        raise RequestError(f"{name} must hold non-empty strings")
    return value


class RecommendBatcher:
    """Answers concurrent recommend calls with as few model calls as possible."""

    def __init__(self, call, max_users: int = 512):
        """`call(model, users, k, exclude_seen)`: an async function that answers
        one batch (a thread-pool hop for the SavedModel, inline for the fast path)."""
        self._call = call
        self._max_users = max_users
        self._pending: List[tuple] = []  # (model, users, k, exclude_seen, future)
        self._draining = False

    async def recommend(self, model: PushedModel, users: List[str], k: int,
                        exclude_seen: bool) -> List[UserRecommendations]:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((model, users, k, exclude_seen, future))
        if not self._draining:
            self._draining = True
            asyncio.ensure_future(self._drain())
        results = await future
        return [UserRecommendations(r.user_id, r.items[:k], r.cold_start) for r in results]

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # let requests that arrived together join the batch
                model, _, _, exclude_seen, _ = self._pending[0]
                batch, rest, size = [], [], 0
                for entry in self._pending:
                    same = entry[0] is model and entry[3] == exclude_seen
                    if same and (not batch or size + len(entry[1]) <= self._max_users):
                        batch.append(entry)
                        size += len(entry[1])
                    else:
                        rest.append(entry)
                self._pending = rest
                users = [user for entry in batch for user in entry[1]]
                k = max(entry[2] for entry in batch)
                try:
                    results = await self._call(model, users, k, exclude_seen)
                except Exception as error:  # each waiting request answers with it
                    for entry in batch:
                        if not entry[4].done():
                            entry[4].set_exception(error)
                    continue
                start = 0
                for entry in batch:
                    # A request whose client went away was cancelled: skip it.
                    if not entry[4].done():
                        entry[4].set_result(results[start:start + len(entry[1])])
                    start += len(entry[1])
        finally:
            self._draining = False


WORKER_HEADER = "X-Mtrec-Worker"  # the pid of the process that answered (serving/workers.py)


def _json_response(data: Any, status: int = 200) -> web.Response:
    """`data` as a JSON response, encoded by orjson (an order of magnitude
    faster than the standard library's, for the same JSON)."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        headers={WORKER_HEADER: str(os.getpid())})


def _recommendations_json(result: UserRecommendations) -> Dict[str, Any]:
    return {"user": result.user_id, "cold_start": result.cold_start,
            "items": [{"item_id": r.item_id, "title": r.title, "score": r.score}
                      for r in result.items]}


def _to_json(value: Any) -> Any:
    """numpy outputs -> JSON values (bytes decoded)."""
    array = np.asarray(value)
    if array.dtype.kind in ("S", "O"):
        return np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b,
                            otypes=[object])(array).tolist() if array.size else array.tolist()
    return array.tolist()


class Server:
    """The aiohttp application around a ModelHolder."""

    MAX_BATCH = 1000
    INLINE_USERS = 32  # fast-path requests up to this many users run on the event loop (~2 ms)

    def __init__(self, holder: ModelHolder, poll_seconds: float = 5.0, threads: int = 4):
        self.holder = holder
        self.poll_seconds = poll_seconds
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=threads)
        self.app = web.Application(middlewares=[self._errors])
        self.app.add_routes([
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
            web.get("/v1/models/{spec}", self.model_status),
            web.post("/v1/models/{spec}", self.tf_serving_predict),
            web.get("/recommend", self.recommend_get),
            web.post("/recommend", self.recommend_post),
            web.post("/predict", self.predict),
            web.get("/similar-items", self.similar_items),
        ])
        self.batcher = RecommendBatcher(self._recommend_batch)
        self.app.on_startup.append(self._start_watcher)
        self.app.on_cleanup.append(self._stop_watcher)

    @web.middleware
    async def _errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except RequestError as error:
            return _json_response({"error": str(error)}, status=error.status)
        except InvalidKError as error:
            return _json_response({"error": str(error)}, status=400)
        except UnknownIdError as error:
            return _json_response({"error": str(error)}, status=404)
        except web.HTTPException as error:
            return _json_response({"error": error.reason}, status=error.status)
        except Exception as error:  # answered as a 500, and logged with its traceback
            log.exception("request %s %s failed", request.method, request.path)
            return _json_response({"error": f"internal error: {type(error).__name__}: {error}"},
                                     status=500)

    # -- lifecycle ----------------------------------------------------------

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await loop.run_in_executor(self.executor, self.holder.refresh)
            await asyncio.sleep(self.poll_seconds)

    async def _start_watcher(self, app: web.Application) -> None:
        self._watcher = asyncio.create_task(self._watch())

    async def _stop_watcher(self, app: web.Application) -> None:
        self._watcher.cancel()
        self.executor.shutdown(wait=False)

    async def _call(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def _recommend_batch(self, model: PushedModel, users: List[str], k: int,
                               exclude_seen: bool) -> List[UserRecommendations]:
        """One SavedModel call, in the thread pool, for the batcher."""
        return await self._call(model.recommend, users, k, exclude_seen)

    def _model(self) -> PushedModel:
        model = self.holder.current
        if model is None:
            raise RequestError(f"no version of {self.holder.model_name!r} is loaded yet", 503)
        return model

    # -- handlers -----------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        return _json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        model = self._model()
        return _json_response({"status": "ready", "version": model.version,
                               "fast_path": model.fast is not None, "worker_pid": os.getpid()})

    def _check_name(self, name: str) -> None:
        if name != self.holder.model_name:
            raise RequestError(f"model {name!r} not found; this server serves "
                               f"{self.holder.model_name!r}", 404)

    async def model_status(self, request: web.Request) -> web.Response:
        self._check_name(request.match_info["spec"])
        return _json_response(self.holder.status())

    async def tf_serving_predict(self, request: web.Request) -> web.Response:
        spec = request.match_info["spec"]
        if not spec.endswith(":predict"):
            raise RequestError(f"unknown method in {spec!r}; expected <name>:predict", 404)
        self._check_name(spec[: -len(":predict")])
        body = await _json_body(request)
        model = self._model()
        name = body.get("signature_name", "serving_default")
        if name not in model.signatures:
            raise RequestError(f"signature_name {name!r} not found; available: "
                               f"{sorted(model.signatures)}")
        signature = model.signatures[name]
        specs = signature.structured_input_signature[1]
        if ("instances" in body) == ("inputs" in body):
            raise RequestError("give exactly one of 'instances' (row format) or 'inputs' (columnar)")
        if "instances" in body:
            instances = body["instances"]
            if not isinstance(instances, list) or not instances:
                raise RequestError("'instances' must be a non-empty list")
            if all(isinstance(i, dict) for i in instances):
                columns = {key: [i.get(key) for i in instances] for key in specs}
            elif len(specs) == 1:
                columns = {next(iter(specs)): instances}
            else:
                raise RequestError(f"each instance must be an object with {sorted(specs)}")
        else:
            inputs = body["inputs"]
            columns = inputs if isinstance(inputs, dict) else (
                {next(iter(specs)): inputs} if len(specs) == 1 else None)
            if columns is None:
                raise RequestError(f"'inputs' must be an object with {sorted(specs)}")
        missing = [key for key in specs if key not in columns or columns[key] is None
                   or (isinstance(columns[key], list) and any(v is None for v in columns[key]))]
        if missing:
            raise RequestError(f"missing input(s) {missing} for signature {name!r}")
        try:
            tensors = {key: tf.constant(columns[key], dtype=specs[key].dtype) for key in specs}
        except (TypeError, ValueError) as error:
            raise RequestError(f"inputs do not match signature {name!r}: {error}") from error
        for key, tensor in tensors.items():  # a mis-shaped input would fail inside the model
            if not specs[key].shape.is_compatible_with(tensor.shape):
                raise RequestError(f"input {key!r} has shape {tensor.shape.as_list()}; signature "
                                   f"{name!r} expects {specs[key].shape.as_list()} "
                                   f"(None: any length)")
        outputs = await self._call(lambda: {k: v.numpy() for k, v in signature(**tensors).items()})
        if "instances" in body:
            rows = len(next(iter(outputs.values())))
            if len(outputs) == 1:
                predictions = _to_json(next(iter(outputs.values())))
            else:
                converted = {k: _to_json(v) for k, v in outputs.items()}
                predictions = [{k: converted[k][i] for k in outputs} for i in range(rows)]
            return _json_response({"predictions": predictions})
        return _json_response({"outputs": {k: _to_json(v) for k, v in outputs.items()}})

    async def _recommend(self, users: List[str], k: Any, exclude_seen: Any) -> web.Response:
        model = self._model()
        k = _int_field(k, "k")
        model.check_k(k)
        exclude_seen = _bool_field(exclude_seen, "exclude_seen")
        if model.fast is not None and len(users) <= self.INLINE_USERS:
            results = model.recommend(users, k, exclude_seen)  # each user is its own search
        elif model.fast is not None:  # a large batch would hold up the event loop
            results = await self._call(model.recommend, users, k, exclude_seen)
        else:
            results = await self.batcher.recommend(model, users, k, exclude_seen)
        return _json_response({"model_version": model.version,
                                  "recommendations": [_recommendations_json(r) for r in results]})

    async def recommend_get(self, request: web.Request) -> web.Response:
        user = request.query.get("user")
        if not user:
            raise RequestError("the 'user' query parameter is required")
        return await self._recommend([user], request.query.get("k", "10"),
                                     request.query.get("exclude_seen", "true"))

    async def recommend_post(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        users = _id_list(body.get("users"), "users", self.MAX_BATCH)
        return await self._recommend(users, body.get("k", 10), body.get("exclude_seen", True))

    async def predict(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        pairs = body.get("pairs")
        if not isinstance(pairs, list) or not pairs or len(pairs) > self.MAX_BATCH:
            raise RequestError(f"'pairs' must be a list of 1..{self.MAX_BATCH} "
                               "{\"user\": ..., \"item\": ...} objects")
        if not all(isinstance(p, dict) and isinstance(p.get("user"), str)
                   and isinstance(p.get("item"), str) for p in pairs):
            raise RequestError("each pair must be {\"user\": string, \"item\": string}")
        model = self._model()
        users, items = [p["user"] for p in pairs], [p["item"] for p in pairs]
        await self._call(model.require_known, "item", items)
        ratings, known_users = await self._call(
            lambda: (model.predict_rating(users, items), model.known_users(users)))
        return _json_response({"model_version": model.version, "predictions": [
            {"user": u, "item": i, "rating": float(r), "cold_start": not bool(known)}
            for u, i, r, known in zip(users, items, ratings, known_users)]})

    async def similar_items(self, request: web.Request) -> web.Response:
        item = request.query.get("item")
        if not item:
            raise RequestError("the 'item' query parameter is required")
        model = self._model()
        k = _int_field(request.query.get("k", "10"), "k")
        model.check_k(k)
        await self._call(model.require_known, "item", [item])
        (items,) = await self._call(model.similar_items, [item], k)
        return _json_response({"model_version": model.version, "item": item, "items": [
            {"item_id": r.item_id, "title": r.title, "score": r.score} for r in items]})


def run_server(serving_dir: str, model_name: str, host: str, port: int, poll_seconds: float,
               fast_path: bool = True, access_log: bool = False, reuse_port: bool = False,
               on_listening=None) -> None:
    """Runs one server until SIGINT or SIGTERM; the first version loads before
    it listens. `access_log`: a log line per request (aiohttp's access log);
    `reuse_port`: bind with SO_REUSEPORT, beside other workers
    (serving/workers.py); `on_listening(message)` is called once it listens."""
    holder = ModelHolder(serving_dir, model_name, fast_path=fast_path)
    holder.refresh()
    if holder.current is None:
        log.warning("no loadable version under %s yet; /readyz answers 503 until one is pushed",
                    holder.base)
    server = Server(holder, poll_seconds=poll_seconds)
    listening = on_listening or (lambda message: print(message, flush=True))
    web.run_app(server.app, host=host, port=port, reuse_port=reuse_port or None,
                print=listening,
                access_log=logging.getLogger("aiohttp.access") if access_log else None)
