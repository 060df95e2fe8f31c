"""Queries against the newest pushed model: `mtrec recommend`, `predict`,
`similar-items`, `similar-users` and `export-embeddings`.

The id and k checks are the loaded model's (serving/loader.py); its typed
errors are UserFacingErrors, so each prints as one line with exit 2.
"""

from __future__ import annotations

import argparse
import sys

from mtrec.pipeline.cli.common import add_serving_options, load_latest_model, positive_int
from mtrec.pipeline.runtime.errors import UserFacingError


def register(commands: argparse._SubParsersAction) -> None:
    recommend = commands.add_parser(
        "recommend", help="top-k items for a user from the latest pushed model",
        description="Loads the newest pushed version and prints the user's top-k items "
                    "(ScaNN index; items the user rated in training are excluded).")
    recommend.add_argument("--user", required=True, help="user id")
    recommend.add_argument("-k", type=positive_int, default=10, help="number of items (default 10)")
    recommend.add_argument("--include-seen", action="store_true",
                           help="do not exclude items the user rated in training")
    recommend.add_argument("--exact", action="store_true",
                           help="brute-force search instead of the ScaNN index")
    add_serving_options(recommend)
    recommend.set_defaults(handler=_recommend)

    predict = commands.add_parser(
        "predict", help="predicted rating for a user and an item",
        description="Loads the newest pushed version and prints the predicted rating.")
    predict.add_argument("--user", required=True, help="user id")
    predict.add_argument("--item", required=True, help="item id")
    add_serving_options(predict)
    predict.set_defaults(handler=_predict)

    similar = commands.add_parser(
        "similar-items", help="items most similar to an item, from the latest pushed model",
        description="Ranks items by the cosine similarity of their embeddings to the item's.")
    similar.add_argument("--item", required=True, help="item id")
    similar.add_argument("-k", type=positive_int, default=10, help="number of items (default 10)")
    add_serving_options(similar)
    similar.set_defaults(handler=_similar_items)

    similar_users = commands.add_parser(
        "similar-users", help="users most similar to a user, from the latest pushed model",
        description="Ranks users by the cosine similarity of their embeddings to the user's.")
    similar_users.add_argument("--user", required=True, help="user id")
    similar_users.add_argument("-k", type=positive_int, default=10,
                               help="number of users (default 10)")
    add_serving_options(similar_users)
    similar_users.set_defaults(handler=_similar_users)

    export = commands.add_parser(
        "export-embeddings", help="write user and item embeddings with their ids",
        description="Writes every user's and item's embedding from the latest pushed model: "
                    "csv (id,e0,e1,...), npy (+ ids .txt) or parquet (id, embedding list).")
    export.add_argument("--format", choices=["csv", "npy", "parquet"], default="csv",
                        help="file format (default csv)")
    export.add_argument("-o", "--output", required=True, help="folder to write the files to")
    add_serving_options(export)
    export.set_defaults(handler=_export_embeddings)


def _recommend(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runs.summary import print_recommendations

    if args.exact and args.include_seen:  # checked before the slow model load
        raise UserFacingError("--exact searches with seen items excluded only: drop "
                              "--include-seen or --exact")
    model = load_latest_model(args)
    (result,) = model.recommend([args.user], args.k, exclude_seen=not args.include_seen,
                                exact=args.exact)
    if result.cold_start:
        print(f"note: user {args.user!r} was not in the training data; showing the most "
              f"popular items (cold start)", file=sys.stderr)
    print_recommendations(f"user {args.user}", result.items, model)
    return 0


def _predict(args: argparse.Namespace) -> int:
    model = load_latest_model(args)
    model.require_known("item", [args.item])
    if not model.known_users([args.user])[0]:
        print(f"note: user {args.user!r} was not in the training data; the rating rests on "
              f"the item alone", file=sys.stderr)
    (rating,) = model.predict_rating([args.user], [args.item])
    print(f"{rating:.3f}")
    return 0


def _similar_items(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runs.summary import print_recommendations

    model = load_latest_model(args)
    model.check_k(args.k)
    model.require_known("item", [args.item])
    (items,) = model.similar_items([args.item], args.k)
    print_recommendations(f"item {args.item}", items, model)
    return 0


def _similar_users(args: argparse.Namespace) -> int:
    model = load_latest_model(args)
    model.check_k(args.k)
    model.require_known("user", [args.user])
    (users,) = model.similar_users([args.user], args.k)
    for rank, (user, score) in enumerate(users, 1):
        print(f"{rank:3d}  {user}  {score:.4f}")
    return 0


def _export_embeddings(args: argparse.Namespace) -> int:
    from mtrec.serving.embeddings_export import export_embeddings

    model = load_latest_model(args)
    written = export_embeddings(model, args.output, args.format)
    print(f"wrote {written['user']} user and {written['item']} item embeddings "
          f"({args.format}) from version {model.version} to {args.output}")
    return 0
