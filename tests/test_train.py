"""Training loop, selection on validation, resume after a kill, metrics."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from istvt.checkpoint import load_checkpoint, read_checkpoint
from istvt.data.dataset import ClipDataset, to_tensor
from istvt.data.shards import write_shard
from istvt.metrics import bootstrap_ci, eer, point_metrics, video_scores
from istvt.train import (
    Clock,
    TrainConfig,
    TrainingSuspended,
    chance_metrics,
    lr_at,
    selection_score,
    train,
)

from .conftest import tiny_config


def synthetic_shard(path, videos=8, clips=2, seed=0):
    """Fake clips carry a bright square that moves between frames; real ones do not."""
    rng = np.random.default_rng(seed)
    n = videos * clips
    frames = rng.integers(60, 120, (n, 4, 64, 64, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(videos) % 2, clips).astype(np.int8)
    for k in np.flatnonzero(labels):
        for t in range(4):
            frames[k, t, 20 + 3 * t : 36 + 3 * t, 20:36] = 230
    write_shard(
        path,
        {
            "clips": frames,
            "landmarks": np.zeros((n, 4, 68, 2), np.float32),
            "video_ids": np.repeat([f"v{i}" for i in range(videos)], clips),
            "labels": labels,
            "starts": np.tile(np.arange(clips) * 4, videos).astype(np.int32),
        },
    )
    return path


@pytest.fixture
def data(tmp_path):
    train_shard = synthetic_shard(tmp_path / "train.npz", videos=8, seed=0)
    val_shard = synthetic_shard(tmp_path / "val.npz", videos=4, seed=1)
    return ClipDataset([train_shard], hflip=True), ClipDataset([val_shard])


# AdamW: with SGD at lr 0.05 this tiny model stays at chance loss for 8 epochs on
# every seed tried, so a falling loss would be luck, not learning
CFG = TrainConfig(epochs=3, batch_size=4, optimizer="adamw", lr=1e-3, warmup_epochs=1, seed=0)


def run(data, tmp_path, cfg=CFG, name="run", model=None, **kwargs):
    out = tmp_path / name
    best = train(
        model or tiny_config(),
        cfg,
        data[0],
        data[1],
        out / "model.pth",
        out / "state.pt",
        out / "log.csv",
        device="cpu",
        **kwargs,
    )
    return best, out


def test_dataset_items_and_filter(data, tmp_path):
    x, y, k = data[0][3]
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert y.item() == float(data[0].labels[k])
    only = ClipDataset([tmp_path / "train.npz"], video_ids=["v1", "v2"])
    assert len(only) == 4 and set(only.video_ids) == {"v1", "v2"}
    clip = np.full((2, 4, 4, 3), 255, np.uint8)
    assert torch.allclose(to_tensor(clip), torch.ones(2, 3, 4, 4))


def test_warmup_then_cosine():
    cfg = TrainConfig(epochs=4, lr=1.0, warmup_epochs=1)
    assert lr_at(cfg, 0, 10) == pytest.approx(0.1)
    assert lr_at(cfg, 9, 10) == pytest.approx(1.0)
    assert lr_at(cfg, 10, 10) == pytest.approx(1.0)
    assert lr_at(cfg, 39, 10) < 0.01


def test_training_learns_logs_and_selects_on_validation(data, tmp_path):
    best, out = run(data, tmp_path)
    log = pd.read_csv(out / "log.csv")
    assert list(log.epoch) == [1, 2, 3]
    assert log.train_loss.iloc[-1] < log.train_loss.iloc[0]
    assert best["val_video_acc"] == log.val_video_acc.max()
    payload = read_checkpoint(out / "model.pth")
    assert payload["extra"]["best_epoch"] == best["epoch"]
    model = load_checkpoint(out / "model.pth", expected=tiny_config()).eval()
    x = torch.stack([data[1][i][0] for i in range(len(data[1]))])
    with torch.no_grad():
        prob = torch.sigmoid(model(x)).numpy()
    assert point_metrics(data[1].labels, prob)["acc"] == pytest.approx(best["val_clip_acc"])


def test_selection_window_does_not_keep_a_lucky_untrained_epoch():
    # the FF++ demo's failure: epoch 1 (at the class prior) reads 0.69 by luck on a small
    # validation split, the trained epochs read a little less each, but steadily
    aucs = [0.69, 0.55, 0.48, 0.62, 0.66, 0.67, 0.68]
    chance = {"val_clip_auc": 0.5}
    one = TrainConfig(select_metric="val_clip_auc")
    three = TrainConfig(select_metric="val_clip_auc", select_window=3)
    rows = [{"val_clip_auc": a} for a in aucs]

    def best(cfg):
        scores = [selection_score(cfg, rows[: e + 1], chance) for e in range(len(rows))]
        return 1 + int(np.argmax(scores)), scores

    assert best(one)[0] == 1  # a single epoch: the lucky one wins
    epoch, scores = best(three)
    assert epoch == 7 and scores[0] == pytest.approx((0.69 + 0.5 + 0.5) / 3)
    # a one-class split (NaN AUC) counts at chance instead of poisoning the mean
    nan_rows = [{"val_clip_auc": float("nan")}, {"val_clip_auc": 0.8}]
    assert selection_score(three, nan_rows, chance) == pytest.approx((0.5 + 0.5 + 0.8) / 3)
    with pytest.raises(ValueError, match="select_window"):
        TrainConfig(select_window=0)


def test_chance_metrics_are_what_a_constant_score_reads(data):
    from istvt.inference import evaluate_split

    val = data[1]
    chance = chance_metrics(val)

    class Constant(torch.nn.Module):  # predicts the validation split's clip prior
        def forward(self, x):
            p = float(val.labels.mean())
            return torch.full((len(x),), float(np.log(p / (1 - p))))

    got = evaluate_split(Constant(), val, 4, "cpu", "fp32")
    assert got["val_loss"] == pytest.approx(chance["val_loss"], abs=1e-5)
    assert got["val_clip_auc"] == chance["val_clip_auc"] == 0.5
    assert max(got["val_video_acc"], 1 - got["val_video_acc"]) == chance["val_video_acc"]


def kill_in_epoch_two(monkeypatch, before: int = 0):
    """Make training die (as if killed) during epoch 2 (after ``before`` validations of
    an entry-flow stage); returns a function undoing it."""
    import istvt.train as train_module

    real = train_module.evaluate_split
    calls = {"n": 0}

    def dies_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == before + 2:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate_split", dies_in_epoch_two)
    return lambda: monkeypatch.setattr(train_module, "evaluate_split", real)


def test_same_seed_same_weights_and_resume_after_a_kill(data, tmp_path, monkeypatch):
    _, ref = run(data, tmp_path, name="ref")
    restore = kill_in_epoch_two(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(data, tmp_path, name="killed")
    assert not (tmp_path / "killed" / "model.pth").exists()
    restore()
    run(data, tmp_path, name="killed")  # resumes after epoch 1
    a = read_checkpoint(ref / "model.pth")["state_dict"]
    b = read_checkpoint(tmp_path / "killed" / "model.pth")["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    assert pd.read_csv(tmp_path / "killed" / "log.csv").epoch.tolist() == [1, 2, 3]


def test_a_changed_config_does_not_resume(data, tmp_path, caplog, monkeypatch):
    restore = kill_in_epoch_two(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(data, tmp_path, cfg=TrainConfig(epochs=2, batch_size=4, lr=0.05), name="x")
    assert (tmp_path / "x" / "state.pt").exists()
    restore()
    caplog.set_level("WARNING")
    run(data, tmp_path, cfg=TrainConfig(epochs=2, batch_size=4, lr=0.01), name="x")
    assert "another configuration" in caplog.text
    assert not (tmp_path / "x" / "state.pt").exists()  # finished: state removed


def test_entry_flow_stage_runs_first_and_a_resume_skips_it(data, tmp_path, monkeypatch, caplog):
    cfg = replace(CFG, entry_epochs=2)
    caplog.set_level("INFO")
    _, ref = run(data, tmp_path, cfg=cfg, name="ref")
    assert caplog.text.count("entry flow alone, epoch") == 2
    assert pd.read_csv(ref / "log.csv").epoch.tolist() == [1, 2, 3]  # the model's epochs
    staged = read_checkpoint(ref / "model.pth")
    _, plain_dir = run(data, tmp_path, name="plain")
    plain = read_checkpoint(plain_dir / "model.pth")["state_dict"]
    assert set(staged["state_dict"]) == set(plain)  # the per-frame head is not kept
    first = next(k for k in plain if k.startswith("entry_flow.") and k.endswith("weight"))
    assert not torch.equal(staged["state_dict"][first], plain[first])
    assert staged["extra"]["train"]["entry_epochs"] == 2
    # killed in the model's epoch 2: the rerun resumes there, without the stage again
    restore = kill_in_epoch_two(monkeypatch, before=2)
    with pytest.raises(KeyboardInterrupt):
        run(data, tmp_path, cfg=cfg, name="killed")
    restore()
    caplog.clear()
    run(data, tmp_path, cfg=cfg, name="killed")
    assert "entry flow alone" not in caplog.text
    resumed = read_checkpoint(tmp_path / "killed" / "model.pth")["state_dict"]
    for k, v in staged["state_dict"].items():
        torch.testing.assert_close(resumed[k], v, rtol=0, atol=0, msg=k)


def test_entry_flow_stage_options_are_checked():
    with pytest.raises(ValueError, match="entry_epochs"):
        TrainConfig(entry_epochs=-1)
    with pytest.raises(ValueError, match="entry_lr"):
        TrainConfig(entry_lr=0)


def test_empty_split_is_a_clear_error(data, tmp_path):
    empty = ClipDataset([tmp_path / "val.npz"], video_ids=[])
    with pytest.raises(ValueError, match="0 validation clips"):
        train(
            tiny_config(),
            CFG,
            data[0],
            empty,
            tmp_path / "m.pth",
            tmp_path / "s.pt",
            tmp_path / "l.csv",
        )


def test_metrics_on_hand_made_scores():
    labels = np.array([0, 0, 1, 1])
    assert point_metrics(labels, np.array([0.1, 0.2, 0.8, 0.9])) == {
        "acc": 1.0,
        "auc": 1.0,
        "eer": 0.0,
        "ap": 1.0,
    }
    m = point_metrics(labels, np.array([0.1, 0.6, 0.4, 0.9]))
    assert m["acc"] == 0.5 and m["auc"] == 0.75
    assert eer(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert np.isnan(point_metrics(np.array([1, 1]), np.array([0.2, 0.9]))["auc"])
    ci = bootstrap_ci(labels, np.array([0.1, 0.6, 0.4, 0.9]), n=200)
    assert ci["auc_lo"] <= 0.75 <= ci["auc_hi"]
    clips = pd.DataFrame(
        {"video_id": ["a", "a", "b"], "label": [1, 1, 0], "score": [0.2, 0.6, 0.3]}
    )
    videos = video_scores(clips)
    assert videos.score.tolist() == pytest.approx([0.4, 0.3])
    assert videos.clips.tolist() == [2, 1]


def test_curve_metrics_agree_with_scikit_learn_including_ties():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from istvt.metrics import curve_metrics

    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(200):
        n = int(rng.integers(2, 40))
        labels = rng.integers(0, 2, n)
        if labels.sum() in (0, n):
            continue
        scores = np.round(rng.random(n), 1)  # many ties
        auc, _, ap = curve_metrics(labels, scores)
        assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert ap == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
        checked += 1
    assert checked > 150


def test_clips_per_video_sampler_draws_k_clips_of_every_video_each_epoch():
    from collections import Counter

    from istvt.train import ClipsPerVideoSampler

    videos = ["a"] * 4 + ["b"] * 4 + ["c"] * 1 + ["d"] * 4
    sampler = ClipsPerVideoSampler(videos, 2, seed=3)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert len(order) == len(sampler) == 7 and len(set(order)) == 7  # c has one clip
        assert Counter(videos[k] for k in order) == {"a": 2, "b": 2, "c": 1, "d": 2}
        epochs.append(order)
    assert epochs[0] != epochs[1]  # drawn afresh
    again = ClipsPerVideoSampler(videos, 2, seed=3)
    again.set_epoch(1)
    assert list(again) == epochs[1]  # seeded: a resumed run draws the same
    # two ranks: disjoint slices of the same global order, padded to equal length
    ranks = [ClipsPerVideoSampler(videos, 2, 2, r, seed=3) for r in (0, 1)]
    for r in ranks:
        r.set_epoch(1)
    a, b = (list(r) for r in ranks)
    assert len(a) == len(b) == 4
    merged = [k for pair in zip(a, b, strict=True) for k in pair]
    assert merged[:7] == epochs[1] and merged[7] == epochs[1][0]


def assert_same_training(ref, other):
    """The same weights to the bit and the same log (but for the seconds taken)."""
    a = read_checkpoint(ref / "model.pth")["state_dict"]
    b = read_checkpoint(other / "model.pth")["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    log_a = pd.read_csv(ref / "log.csv").drop(columns="seconds")
    log_b = pd.read_csv(other / "log.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(log_a, log_b, check_exact=True)


def test_a_training_stopped_mid_epoch_resumes_bit_identically(data, tmp_path):
    """Stops every 3 steps of 4 per epoch (mid-epoch, and once after an epoch's last step,
    before its validation), each in a new train() call as a new job would: the same
    model to the bit as one uninterrupted run. Dropout in the model makes the RNG count;
    augmentation (hflip) and the sampler order must continue where they stopped."""
    model = tiny_config(dropout=0.2)
    cfg = replace(CFG, checkpoint_minutes=0)
    _, ref = run(data, tmp_path, cfg, "ref", model)
    steps_per_epoch = len(data[0]) // cfg.batch_size
    assert steps_per_epoch == 4
    stops, state = [], tmp_path / "cut" / "state.pt"
    for _ in range(10):
        try:
            run(data, tmp_path, cfg, "cut", model, clock=Clock(stop_after_steps=3))
            break
        except TrainingSuspended:
            saved = torch.load(state, weights_only=True)
            stops.append((saved["epoch"], saved["batch"]))
    # step 3 of epoch 1; 2 of epoch 2; 1 of epoch 3; epoch 3's last (before validation)
    assert stops == [(0, 3), (1, 2), (2, 1), (2, 4)]
    assert_same_training(ref, tmp_path / "cut")
    # without dropout in the model the RNG would not matter: check that it does here
    _, plain = run(data, tmp_path, cfg, "plain")
    a = read_checkpoint(ref / "model.pth")["state_dict"]
    b = read_checkpoint(plain / "model.pth")["state_dict"]
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_periodic_mid_epoch_saves_change_nothing(data, tmp_path, monkeypatch):
    """checkpoint_minutes saves the state mid-epoch without disturbing the run."""
    import istvt.train as train_module

    saved = []
    real = train_module._save_state
    monkeypatch.setattr(
        train_module, "_save_state", lambda st, p: (saved.append(st.get("batch")), real(st, p))
    )
    _, ref = run(data, tmp_path, CFG, "ref")
    count = len(saved)
    every = replace(CFG, checkpoint_minutes=1e-9)  # due at every step
    _, out = run(data, tmp_path, every, "every")
    mid = saved[count:]
    assert mid.count(0) == CFG.epochs and sorted(set(mid) - {0}) == [1, 2, 3]
    assert_same_training(ref, out)


def test_a_finished_state_restores_on_a_retry_and_retrains_on_a_new_run(data, tmp_path, caplog):
    caplog.set_level("INFO")
    _, ref = run(data, tmp_path, CFG, "ref", keep_finished=True)
    state = torch.load(ref / "state.pt", weights_only=True)
    assert state["finished"] and "optimizer" not in state  # the weights and the log only
    first = tmp_path / "first"
    first.mkdir()
    for name in ("model.pth", "log.csv"):  # Snakemake deletes a failed job's outputs
        (ref / name).rename(first / name)
    run(data, tmp_path, CFG, "ref", keep_finished=True, attempt=2)  # its retry
    restored = caplog.text.split("rewriting its outputs")
    assert len(restored) == 2 and "epoch 1/3" not in restored[1]  # nothing trained
    assert_same_training(first, ref)
    caplog.clear()
    run(data, tmp_path, CFG, "ref", keep_finished=True, attempt=1)  # --forcerun: train again
    assert "trains afresh" in caplog.text and "epoch 3/3" in caplog.text


def test_clock_stops_before_the_time_limit_and_on_signals():
    import os
    import signal

    clock = Clock(checkpoint_minutes=0, time_left=100.0)
    assert clock.margin == 10.0 and clock.due(end_of_epoch=False) == (False, None)
    clock.step_done(95.0)  # the next step would not fit
    save, why = clock.due(end_of_epoch=False)
    assert save and "before the time limit" in why
    assert Clock(time_left=24 * 3600.0).margin == 300.0
    clock = Clock(checkpoint_minutes=0)
    clock.validation_seconds = 1e9  # no limit: validation time does not matter
    assert clock.due(end_of_epoch=True) == (False, None)
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        clock.catch_signals()
        clock.stepping = True
        os.kill(os.getpid(), signal.SIGUSR1)
        assert clock.due(end_of_epoch=False) == (True, "SIGUSR1 received")
        with pytest.raises(SystemExit):  # a second one: at once
            os.kill(os.getpid(), signal.SIGUSR1)
        clock.stepping, clock.signal = False, None
        with pytest.raises(SystemExit):  # outside the steps: at once
            os.kill(os.getpid(), signal.SIGUSR1)
    finally:
        signal.signal(signal.SIGUSR1, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_cpu_training_attention_path_follows_the_precision(data, precision):
    """bf16 on a CPU trains through the explicit softmax path (the fused one is slow to
    differentiate there: benchmarks/demo_step.py); fp32 keeps the fused path."""
    from istvt import distributed
    from istvt.model.attention import Attention
    from istvt.train import _setup

    cfg = replace(CFG, precision=precision)
    run = _setup(tiny_config(), cfg, data[0], data[1], torch.device("cpu"), distributed.current())
    fused = {m.fused for m in run.model.modules() if isinstance(m, Attention)}
    assert fused == {precision == "fp32"}
