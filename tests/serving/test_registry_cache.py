"""The registry cache keeps the newest copies per experiment and alias, nothing else."""

import os
import threading
import time

from kizuna.serving import model_registry, model_sources, model_store
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


def test_two_services_fetching_the_same_versions_at_once_both_get_the_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(model_registry, "resolve_experiment", lambda experiment: "shop")
    monkeypatch.setattr(model_registry, "registry_versions", lambda name, alias: {"churn": 3})
    started = threading.Barrier(2)

    def fetch(name, folder, *, alias):
        started.wait()  # both downloads run at the same time, as two reloads would
        folder.mkdir(parents=True)
        time.sleep(0.2)
        (folder / model_store.VERSIONS_FILE).write_text('{"churn": 3}')

    monkeypatch.setattr(model_registry, "fetch_from_registry", fetch)
    results, errors = [], []

    def service() -> None:
        try:
            results.append(model_sources.model_folder(model_store.REGISTRY))
        except Exception as exc:  # noqa: BLE001 - the test reports what a service would
            errors.append(exc)

    threads = [threading.Thread(target=service) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    assert (results[0] / model_store.VERSIONS_FILE).exists()
    cache = results[0].parent
    assert [p.name for p in cache.iterdir()] == [results[0].name]  # no download left behind
