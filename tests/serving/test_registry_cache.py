"""The registry cache keeps the newest copies per experiment and alias, nothing else."""

import os

from kizuna.serving.live import prune_cache


def make_copy(cache, name: str, mtime: int):
    folder = cache / name
    (folder / "snapshot").mkdir(parents=True)
    (folder / "snapshot" / "lines.arrow").write_bytes(b"x")
    os.utime(folder, (mtime, mtime))
    return folder


def test_prune_keeps_the_two_newest_copies_of_one_experiment_and_alias(tmp_path):
    oldest = make_copy(tmp_path, "shop-champion-aaa", 100)
    older = make_copy(tmp_path, "shop-champion-bbb", 200)
    newer = make_copy(tmp_path, "shop-champion-ccc", 300)
    newest = make_copy(tmp_path, "shop-champion-ddd", 400)
    challenger = make_copy(tmp_path, "shop-challenger-eee", 50)
    other = make_copy(tmp_path, "other-champion-fff", 10)
    partial = make_copy(tmp_path, "shop-champion-ggg.partial", 5)

    removed = prune_cache(tmp_path, "shop-champion-", keep=2)

    assert sorted(removed) == sorted([oldest, older])
    assert not oldest.exists() and not older.exists()
    assert newer.exists() and newest.exists()
    # another alias, another experiment and a download in progress are not touched
    assert challenger.exists() and other.exists() and partial.exists()


def test_prune_with_fewer_copies_than_kept_removes_nothing(tmp_path):
    only = make_copy(tmp_path, "shop-champion-aaa", 100)
    assert prune_cache(tmp_path, "shop-champion-", keep=2) == []
    assert only.exists()
