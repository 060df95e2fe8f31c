"""Queries against the newest pushed model: `mtrec recommend`, `predict`,
`similar-items`, `similar-users` and `export-embeddings`.

The id and k checks are the loaded model's (serving/loader.py); its typed
errors are UserFacingErrors, so each prints as one line with exit 2.
"""

from __future__ import annotations

import argparse
import sys

from mtrec.pipeline.cli.common import (add_command, add_k_option, add_serving_options,
                                       load_latest_model)
from mtrec.pipeline.runtime.errors import UserFacingError


def register(commands: argparse._SubParsersAction) -> None:
    recommend = add_command(
        commands, "recommend", _recommend, "top-k items for a user from the latest pushed model",
        "Loads the newest pushed version and prints the user's top-k items (ScaNN index; "
        "items the user rated in training are excluded).")
    recommend.add_argument("--user", required=True, help="user id")
    add_k_option(recommend, "items")
    recommend.add_argument("--include-seen", action="store_true",
                           help="do not exclude items the user rated in training")
    recommend.add_argument("--exact", action="store_true",
                           help="brute-force search instead of the ScaNN index")

    predict = add_command(
        commands, "predict", _predict, "predicted rating for a user and an item",
        "Loads the newest pushed version and prints the predicted rating.")
    predict.add_argument("--user", required=True, help="user id")
    predict.add_argument("--item", required=True, help="item id")

    neighbours = []
    for kind, handler in (("item", _similar_items), ("user", _similar_users)):
        parser = add_command(
            commands, f"similar-{kind}s", handler,
            f"{kind}s most similar to {'an' if kind == 'item' else 'a'} {kind}, from the "
            "latest pushed model",
            f"Ranks {kind}s by the cosine similarity of their embeddings to the {kind}'s.")
        parser.add_argument(f"--{kind}", required=True, help=f"{kind} id")
        add_k_option(parser, f"{kind}s")
        neighbours.append(parser)

    export = add_command(
        commands, "export-embeddings", _export_embeddings,
        "write user and item embeddings with their ids",
        "Writes every user's and item's embedding from the latest pushed model: csv "
        "(id,e0,e1,...), npy (+ ids .txt) or parquet (id, embedding list).")
    export.add_argument("--format", choices=["csv", "npy", "parquet"], default="csv",
                        help="file format (default csv)")
    export.add_argument("-o", "--output", required=True, help="folder to write the files to")

    for parser in (recommend, predict, *neighbours, export):
        add_serving_options(parser)


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


def _model_for_neighbours(args: argparse.Namespace, kind: str, query_id: str):
    """The newest model, once -k fits it and it knows the `kind` id asked about."""
    model = load_latest_model(args)
    model.check_k(args.k)
    model.require_known(kind, [query_id])
    return model


def _similar_items(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runs.summary import print_recommendations

    model = _model_for_neighbours(args, "item", args.item)
    (items,) = model.similar_items([args.item], args.k)
    print_recommendations(f"item {args.item}", items, model)
    return 0


def _similar_users(args: argparse.Namespace) -> int:
    model = _model_for_neighbours(args, "user", args.user)
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
