"""What a recommendation query answers, whichever path computed it."""

from __future__ import annotations

import dataclasses
from typing import List


@dataclasses.dataclass(frozen=True)
class Recommendation:
    item_id: str
    title: str
    score: float


@dataclasses.dataclass(frozen=True)
class UserRecommendations:
    """Top items for one user. `cold_start`: the user was not in the training
    data, so the items are the training data's most popular ones."""

    user_id: str
    items: List[Recommendation]
    cold_start: bool
