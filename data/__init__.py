"""Datasets: the embedded sample (`sample/`, made by `generate_sample.py`) and
preparers that turn public datasets into the canonical CSV columns
(user_id, item_id, rating, timestamp; items: item_id, title, genres)."""
