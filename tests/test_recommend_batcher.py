"""The server's micro-batcher: one model call for concurrent requests, each
request gets its own users' rows, and a cancelled request harms no other."""

import asyncio

from mtrec.serving.results import Recommendation, UserRecommendations
from mtrec.serving.server import RecommendBatcher


class FakeModel:
    """Stands in for PushedModel.recommend, recording each call (no TensorFlow)."""

    max_k = 5

    def __init__(self, fail: bool = False):
        self.calls = []
        self.fail = fail

    def recommend(self, users, k, exclude_seen):
        self.calls.append(list(users))
        if self.fail:
            raise RuntimeError("model exploded")
        return [UserRecommendations(u, [Recommendation(f"{u}-{i}", "", 1.0) for i in range(k)], False)
                for u in users]


async def _executor(model, users, k, exclude_seen):
    await asyncio.sleep(0.01)  # a model call takes time, so requests queue meanwhile
    return model.recommend(users, k, exclude_seen)


def test_concurrent_requests_share_model_calls_and_get_their_own_rows():
    async def scenario():
        model, batcher = FakeModel(), RecommendBatcher(_executor)
        results = await asyncio.gather(*(batcher.recommend(model, [f"u{i}"], 2, True)
                                         for i in range(20)))
        return model, results

    model, results = asyncio.run(scenario())
    assert len(model.calls) <= 2  # the requests that arrived together, then everyone who queued
    for i, (row,) in enumerate(results):
        assert row.user_id == f"u{i}" and [r.item_id for r in row.items] == [f"u{i}-0", f"u{i}-1"]


def test_a_cancelled_request_does_not_strand_the_others():
    async def scenario():
        model, batcher = FakeModel(), RecommendBatcher(_executor)
        first = asyncio.ensure_future(batcher.recommend(model, ["a"], 1, True))
        doomed = asyncio.ensure_future(batcher.recommend(model, ["b"], 1, True))
        last = asyncio.ensure_future(batcher.recommend(model, ["c"], 1, True))
        await asyncio.sleep(0)
        doomed.cancel()  # the client went away
        return await asyncio.wait_for(asyncio.gather(first, last), timeout=5)

    (a,), (c,) = asyncio.run(scenario())
    assert (a.user_id, c.user_id) == ("a", "c")


def test_a_model_error_reaches_every_waiting_request():
    async def scenario():
        batcher = RecommendBatcher(_executor)
        return await asyncio.gather(*(batcher.recommend(FakeModel(fail=True), ["u"], 1, True)
                                      for _ in range(3)), return_exceptions=True)

    errors = asyncio.run(scenario())
    assert all(isinstance(e, RuntimeError) and "exploded" in str(e) for e in errors)


def test_a_batch_asks_for_its_largest_k_and_each_request_gets_its_own():
    async def scenario():
        model = FakeModel()
        calls = []

        async def call(model, users, k, exclude_seen):
            calls.append(k)
            return await _executor(model, users, k, exclude_seen)

        batcher = RecommendBatcher(call)
        results = await asyncio.gather(batcher.recommend(model, ["a"], 1, True),
                                       batcher.recommend(model, ["b"], 3, True))
        return calls, results

    calls, ((a,), (b,)) = asyncio.run(scenario())
    assert calls == [3]
    assert (len(a.items), len(b.items)) == (1, 3)
