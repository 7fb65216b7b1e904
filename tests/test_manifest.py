"""Every reader on miniature copies of its dataset's layout, built here."""

import json
import shutil

import pandas as pd
import pytest

from istvt.data.manifest import COLUMNS, ManifestError, build_manifest, read_manifest
from istvt.data.manifest.common import write_manifest

from .conftest import shared_path


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00")
    return path


@pytest.fixture
def ffpp(tmp_path):
    root = tmp_path / "ffpp"
    splits = {"train": [["000", "001"]], "val": [["002", "003"]], "test": [["004", "005"]]}
    (root / "splits").mkdir(parents=True)
    for name, pairs in splits.items():
        (root / "splits" / f"{name}.json").write_text(json.dumps(pairs))
    for comp in ("c23", "c40"):
        for i in range(6):
            touch(root / f"original_sequences/youtube/{comp}/videos/{i:03d}.mp4")
        for a, b in (("000", "001"), ("001", "000"), ("002", "003"), ("004", "005")):
            for method in ("Deepfakes", "FaceSwap", "FaceShifter"):
                touch(root / f"manipulated_sequences/{method}/{comp}/videos/{a}_{b}.mp4")
        touch(
            root / f"manipulated_sequences/DeepFakeDetection/{comp}/videos/"
            "01_02__walking__ABCDEFGH.mp4"
        )
        touch(root / f"original_sequences/actors/{comp}/videos/01__walking.mp4")
    touch(root / "original_sequences/youtube/c23/videos/999.mp4")  # in no split
    return root


def test_ffpp_reader(ffpp):
    df = build_manifest("ffpp", ffpp, compressions=["c23"], methods=["Deepfakes", "FaceSwap"])
    assert list(df.columns) == COLUMNS
    assert len(df) == 6 + 2 * 4  # 999 is in no split and is left out
    row = df.set_index("video_id").loc["Deepfakes/c23/000_001"]
    assert (row.label, row.split, row.method, row.compression, row.identities) == (
        1,
        "train",
        "Deepfakes",
        "c23",
        "000|001",
    )
    assert df.set_index("video_id").loc["original/c23/004"].split == "test"
    assert set(df[df.label == 0].method) == {"original"}
    assert df.groupby("split").size().to_dict() == {"test": 4, "train": 6, "val": 4}


def test_ffpp_c40_raw_alias_and_extra_methods(ffpp):
    df = build_manifest(
        "ffpp", ffpp, compressions=["c40"], methods=["FaceShifter", "DeepFakeDetection"]
    )
    assert set(df.compression) == {"c40"}
    dfd = df[df.method == "DeepFakeDetection"].iloc[0]
    assert dfd.split == "test" and dfd.identities == "01|02"
    assert "actors/c40/01__walking" in set(df.video_id)
    with pytest.raises(ManifestError, match="no FaceForensics\\+\\+ videos"):
        build_manifest("ffpp", ffpp, compressions=["c0"])  # raw is not on disk


def test_ffpp_errors_name_the_file(ffpp):
    (ffpp / "splits" / "val.json").write_text("{not json")
    with pytest.raises(ManifestError, match=r"val\.json: malformed"):
        build_manifest("ffpp", ffpp)
    (ffpp / "splits" / "val.json").unlink()
    with pytest.raises(ManifestError, match=r"val\.json: FaceForensics\+\+ split file not found"):
        build_manifest("ffpp", ffpp)
    with pytest.raises(ManifestError, match="unknown FF\\+\\+ method 'Faceswap'"):
        build_manifest("ffpp", ffpp, splits_dir=None, methods=["Faceswap"])


def test_ffpp_official_splits_sizes():
    from istvt.data.manifest.common import OFFICIAL
    from istvt.data.manifest.ffpp import read_splits

    shipped = read_splits(OFFICIAL / "ffpp-splits")
    counts = {s: sum(1 for v in shipped.values() if v == s) for s in ("train", "val", "test")}
    assert counts == {"train": 720, "val": 140, "test": 140}
    assert shipped["953"] == "test" and shipped["720"] == "val" and shipped["071"] == "train"
    assert read_splits(shared_path("data", "official", "ffpp-splits")) == shipped


def test_ffpp_without_splits_uses_the_shipped_official_ones(ffpp):
    shutil.rmtree(ffpp / "splits")
    for vid in ("953", "974", "071"):
        touch(ffpp / "original_sequences" / "youtube" / "c23" / "videos" / f"{vid}.mp4")
    touch(ffpp / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "953_974.mp4")
    df = build_manifest("ffpp", ffpp, methods=["Deepfakes"]).set_index("video_id")
    assert df.loc["original/c23/953"].split == "test"
    assert df.loc["original/c23/071"].split == "train"
    assert df.loc["Deepfakes/c23/953_974"].split == "test"
    # the copy's own split files win over the shipped ones
    (ffpp / "splits").mkdir()
    for name, pairs in {"train": [], "val": [], "test": [["071", "953"]]}.items():
        (ffpp / "splits" / f"{name}.json").write_text(json.dumps(pairs))
    df = build_manifest("ffpp", ffpp, methods=["Deepfakes"]).set_index("video_id")
    assert df.loc["original/c23/071"].split == "test"


@pytest.fixture
def celebdf(tmp_path):
    root = tmp_path / "celebdf"
    for name in ("id0_0000", "id0_0001", "id1_0000", "id2_0000", "id3_0000", "id4_0000"):
        touch(root / "Celeb-real" / f"{name}.mp4")
    for name in ("00001", "00002"):
        touch(root / "YouTube-real" / f"{name}.mp4")
    for name in ("id0_id1_0000", "id1_id0_0000", "id2_id3_0000", "id3_id2_0000", "id4_id2_0000"):
        touch(root / "Celeb-synthesis" / f"{name}.mp4")
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00001.mp4\n1 Celeb-real/id0_0000.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n"
    )
    return root


def test_celebdf_reader_inverts_the_official_labels(celebdf):
    df = build_manifest("celebdf", celebdf, val_fraction=0.3, seed=1).set_index("video_id")
    assert df.loc["YouTube-real/00001"].label == 0 and df.loc["YouTube-real/00001"].split == "test"
    assert df.loc["Celeb-synthesis/id0_id1_0000"].label == 1
    assert df.loc["Celeb-synthesis/id0_id1_0000"].split == "test"
    assert df.loc["Celeb-synthesis/id2_id3_0000"].identities == "id2|id3"
    test_ids = {i for s in df[df.split == "test"].identities for i in s.split("|")}
    val = df[df.split == "val"]
    assert len(val) > 0
    assert not test_ids & {i for s in val.identities for i in s.split("|")}


def test_celebdf_list_contradicting_the_folder(celebdf):
    (celebdf / "List_of_testing_videos.txt").write_text("0 Celeb-real/id0_0000.mp4\n")
    with pytest.raises(ManifestError, match="listed as fake but lies in Celeb-real"):
        build_manifest("celebdf", celebdf)
    (celebdf / "List_of_testing_videos.txt").write_text("real Celeb-real/id0_0000.mp4\n")
    with pytest.raises(ManifestError, match=r"List_of_testing_videos.txt:1: expected"):
        build_manifest("celebdf", celebdf)


def test_celebdf_official_list():
    from istvt.data.manifest.celebdf import TEST_LIST, read_test_list
    from istvt.data.manifest.common import OFFICIAL

    labels = read_test_list(OFFICIAL / "celebdf-v2" / TEST_LIST)
    assert len(labels) == 518
    assert labels["YouTube-real/00170.mp4"] == 0  # "1" in the file means real
    assert sum(labels.values()) == 340 and list(labels.values()).count(0) == 178
    assert read_test_list(shared_path("data", "official", "celebdf-v2", TEST_LIST)) == labels


def test_celebdf_without_its_list_uses_the_shipped_one(celebdf):
    (celebdf / "List_of_testing_videos.txt").unlink()
    touch(celebdf / "YouTube-real" / "00170.mp4")
    touch(celebdf / "Celeb-synthesis" / "id1_id0_0007.mp4")
    df = build_manifest("celebdf", celebdf, val_fraction=0.0).set_index("video_id")
    assert df.loc["YouTube-real/00170"].split == "test"
    assert df.loc["Celeb-synthesis/id1_id0_0007"].split == "test"
    assert df.loc["YouTube-real/00001"].split == "train"  # not in the official list


@pytest.fixture
def dfdc(tmp_path):
    root = tmp_path / "dfdc"
    for part, entries in {
        0: {
            "aaa.mp4": {"label": "REAL", "split": "train", "original": None},
            "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
            "gone.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
        },
        1: {
            "ccc.mp4": {"label": "REAL", "split": "train", "original": None},
            "ddd.mp4": {"label": "FAKE", "split": "train", "original": "ccc.mp4"},
        },
    }.items():
        folder = root / f"dfdc_train_part_{part}"
        folder.mkdir(parents=True)
        (folder / "metadata.json").write_text(json.dumps(entries))
        for name in entries:
            if name != "gone.mp4":
                touch(folder / name)
    touch(root / "test" / "t1.mp4")
    touch(root / "test" / "t2.mp4")
    (root / "test" / "labels.csv").write_text("filename,label\nt1.mp4,1\nt2.mp4,0\n")
    return root


def test_dfdc_reader(dfdc, tmp_path):
    df = build_manifest("dfdc", dfdc, val_parts=[1]).set_index("video_id")
    assert len(df) == 6  # gone.mp4 is listed but absent
    assert df.loc["dfdc_train_part_0/bbb"].label == 1
    assert df.loc["dfdc_train_part_0/bbb"].identities == "dfdc_train_part_0/aaa"
    assert df.loc["dfdc_train_part_1/ccc"].split == "val"
    assert df.loc["test/t1"].label == 1 and df.loc["test/t2"].label == 0
    subset = tmp_path / "subset.txt"
    subset.write_text("t2.mp4\n")
    df = build_manifest("dfdc", dfdc, val_parts=[1], test_subset=subset)
    assert list(df[df.split == "test"].video_id) == ["test/t2"]


def test_dfdc_val_fraction_keeps_fakes_with_their_original(dfdc):
    df = build_manifest("dfdc", dfdc, val_fraction=0.3, seed=3)
    for _, group in df[df.split != "test"].groupby("identities"):
        assert group.split.nunique() == 1


def test_dfdc_test_metadata_json_and_errors(dfdc):
    (dfdc / "test" / "labels.csv").unlink()
    (dfdc / "test" / "metadata.json").write_text(
        json.dumps({"t1.mp4": {"is_fake": 1}, "t2.mp4": {"is_fake": 0}})
    )
    df = build_manifest("dfdc", dfdc).set_index("video_id")
    assert df.loc["test/t1"].label == 1
    (dfdc / "dfdc_train_part_1" / "metadata.json").write_text('{"ccc.mp4": {"lab": 1}}')
    with pytest.raises(ManifestError, match=r"dfdc_train_part_1/metadata.json: entry 'ccc.mp4'"):
        build_manifest("dfdc", dfdc)


def test_dfdc_samples_metadata():
    root = shared_path("data", "samples", "DFDC")
    df = build_manifest("dfdc", root, val_fraction=0.0)
    assert dict(zip(df.video_id, df.label, strict=True)) == {
        "dfdc_train_part_0/brtujopkby": 1,
        "dfdc_train_part_10/widuwuoiur": 1,
        "dfdc_train_part_3/knqhpwoigk": 0,
    }


def test_dfdc_preview_reader(tmp_path):
    root = tmp_path / "dfdcp"
    meta = {
        "original_videos/111/a.mp4": {"label": "real", "set": "train"},
        "original_videos/222/b.mp4": {"label": "real", "set": "test"},
        "method_A/111/111_A/c.mp4": {"label": "fake", "set": "train"},
        "method_B/222/222_B/d.mp4": {"label": "fake", "set": "test"},
    }
    for rel in meta:
        touch(root / rel)
    (root / "dataset.json").write_text(json.dumps(meta))
    df = build_manifest("dfdc_preview", root, val_fraction=0.0).set_index("video_id")
    assert df.loc["method_A/111/111_A/c"].label == 1
    assert df.loc["method_A/111/111_A/c"].method == "method_A"
    assert df.loc["original_videos/222/b"].split == "test"
    (root / "dataset.json").write_text(json.dumps({"x.mp4": {"label": "fake"}}))
    with pytest.raises(ManifestError, match="dataset.json: entry 'x.mp4' needs 'label' and 'set'"):
        build_manifest("dfdc_preview", root)


def test_folder_reader_and_round_trip(tmp_path):
    root = tmp_path / "videos"
    touch(root / "train/real/a.mp4")
    touch(root / "train/fake/b.avi")
    touch(root / "test/fake/c.mov")
    touch(root / "test/fake/notes.txt")
    df = build_manifest("folder", root)
    assert list(df.video_id) == ["test/fake/c", "train/fake/b", "train/real/a"]
    assert list(df.label) == [1, 1, 0]
    path = write_manifest(df, tmp_path / "m.csv")
    assert read_manifest(path).equals(df)
    with pytest.raises(ManifestError, match="expected <root>/"):
        build_manifest("folder", tmp_path / "videos" / "train" / "real")


def test_unknown_layout_and_missing_root(tmp_path):
    with pytest.raises(ManifestError, match="unknown dataset layout 'ff'"):
        build_manifest("ff", tmp_path)
    with pytest.raises(ManifestError, match="Celeb-DF root not found"):
        build_manifest("celebdf", tmp_path / "nowhere")


# ---------------------------------------------------------------- coverage, new layouts


def test_ffpp_coverage_counts_present_expected_and_unlisted(tmp_path):
    from istvt.data.manifest import coverage_markdown, coverage_table

    from .data_trees import ffpp_tree

    root = ffpp_tree(tmp_path / "ffpp", compressions=["c23"], methods=["Deepfakes"])
    touch(root / "original_sequences" / "youtube" / "c23" / "videos" / "1234.mp4")  # no split
    touch(root / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "071_953.mp4")
    df = build_manifest("ffpp", root, methods=["Deepfakes"])
    table = coverage_table(df).set_index(["split", "method", "compression"])
    assert table.loc[("train", "original", "c23"), "expected"] == 720
    assert table.loc[("train", "original", "c23"), "present"] == 2
    assert table.loc[("test", "Deepfakes", "c23"), "missing"] == 138
    unlisted = table.loc["(in no split)"]
    assert unlisted.loc[("original", "c23"), "present"] == 1  # an id in no official pair
    assert unlisted.loc[("Deepfakes", "c23"), "present"] == 1  # a pair across two splits
    text = coverage_markdown(coverage_table(df), "ffpp", df)
    assert "12 of 2000 expected videos present (0.6 %)" in text
    assert "2 video(s) on disk are in no official split" in text
    assert "| Deepfakes | c23 | 2 / 720 | 2 / 140 | 2 / 140 | 1 |" in text


def test_celebdf_coverage_pools_train_and_val(tmp_path):
    from istvt.data.manifest import coverage_table

    from .data_trees import celebdf_tree

    df = build_manifest("celebdf", celebdf_tree(tmp_path / "c"), val_fraction=0.2)
    table = coverage_table(df).set_index(["split", "method"])
    assert table.loc[("test", "original"), "expected"] == 178
    assert table.loc[("test", "Celeb-synthesis"), "expected"] == 340
    assert table.loc[("train+val", "original"), "expected"] == 890 - 178
    assert table.loc[("train+val", "Celeb-synthesis"), "present"] == 5
    assert set(df.split) == {"train", "val", "test"}


def test_deeperforensics_follows_the_ffpp_test_targets(tmp_path):
    from istvt.data.manifest import coverage_table

    from .data_trees import deeperforensics_tree, ffpp_tree, touch

    ffpp = ffpp_tree(tmp_path / "ffpp", compressions=["c23"], methods=[])
    root = deeperforensics_tree(tmp_path / "dfo")
    touch(root / "manipulated_videos" / "end_to_end" / "notes_M105.mp4")  # not an FF++ target
    df = build_manifest("deeperforensics", root, ffpp_root=ffpp).set_index("video_id")
    fake = df.loc["DeeperForensics/end_to_end/953_M101"]
    assert fake.label == 1 and fake.split == "test" and fake.identities == "953|M101"
    real = df.loc["original/c23/953"]
    assert real.label == 0 and real.split == "test"
    assert real.path.endswith("original_sequences/youtube/c23/videos/953.mp4")
    test = df[df.split == "test"]
    assert sorted(test.label) == [0, 0, 1, 1]
    table = coverage_table(build_manifest("deeperforensics", root, ffpp_root=ffpp))
    table = table.set_index(["split", "method"])
    assert table.loc[("test", "DeeperForensics"), "expected"] == 140
    assert table.loc[("(in no split)", "DeeperForensics"), "present"] == 1
    with pytest.raises(ManifestError, match="ffpp_root"):
        build_manifest("deeperforensics", root)


def test_deeperforensics_official_lists(tmp_path):
    from .data_trees import deeperforensics_tree, ffpp_tree

    ffpp = ffpp_tree(tmp_path / "ffpp", compressions=["c23"], methods=[])
    root = deeperforensics_tree(tmp_path / "dfo")
    lists = root / "lists" / "splits"
    lists.mkdir(parents=True)
    (lists / "train.txt").write_text("953_M101.mp4\n071_M101.mp4\n")
    (lists / "val.txt").write_text("720_M101.mp4\n")
    (lists / "test.txt").write_text("054_W102.mp4\n")
    df = build_manifest("deeperforensics", root, ffpp_root=ffpp, splits="official")
    df = df.set_index("video_id")
    assert df.loc["DeeperForensics/end_to_end/953_M101"].split == "train"
    assert df.loc["original/c23/953"].split == "train"  # the real counterpart follows
    assert df.loc["DeeperForensics/end_to_end/054_W102"].split == "test"
    (lists / "val.txt").unlink()
    with pytest.raises(ManifestError, match=r"val\.txt: DeeperForensics split list not found"):
        build_manifest("deeperforensics", root, ffpp_root=ffpp, splits="official")


def _kaggle_sample(root, n=20):
    folder = root / "train_sample_videos"
    meta = {}
    for k in range(n):
        touch(folder / f"real{k}.mp4")
        meta[f"real{k}.mp4"] = {"label": "REAL", "split": "train", "original": None}
        for j in range(3):  # fakes far outnumber reals
            touch(folder / f"fake{k}_{j}.mp4")
            meta[f"fake{k}_{j}.mp4"] = {
                "label": "FAKE",
                "split": "train",
                "original": f"real{k}.mp4",
            }
    meta["missing.mp4"] = {"label": "FAKE", "split": "train", "original": "real0.mp4"}
    (folder / "metadata.json").write_text(json.dumps(meta))
    touch(root / "test_videos" / "unlabelled.mp4")
    return root


def test_kaggle_dfdc_sample_carves_validation_by_original(tmp_path):
    from istvt.data.manifest import coverage_table

    root = _kaggle_sample(tmp_path / "deepfake-detection-challenge")
    df = build_manifest("dfdc_sample", root, val_fraction=0.2, seed=3)
    assert len(df) == 80 and set(df.split) == {"train", "val"}
    assert abs((df.split == "val").mean() - 0.2) < 0.06
    groups = df.groupby("identities").split.nunique()
    assert (groups == 1).all()  # a real video and its fakes stay together
    assert "test_videos" not in " ".join(df.path)
    table = coverage_table(df).set_index(["split", "method"])
    assert table.loc[("train+val", "dfdc"), "expected"] == 61
    assert table.loc[("train+val", "dfdc"), "present"] == 60
    with_test = build_manifest("dfdc_sample", root, val_fraction=0.2, test_fraction=0.2)
    shares = with_test.split.value_counts(normalize=True)
    assert abs(shares["test"] - 0.2) < 0.06 and abs(shares["val"] - 0.2) < 0.06
    assert (with_test.groupby("identities").split.nunique() == 1).all()
    # the folder itself works as the root too
    assert len(build_manifest("dfdc_sample", root / "train_sample_videos")) == 80


def test_manifest_command_prints_the_coverage(tmp_path, capsys):
    from istvt.cli import main

    from .data_trees import ffpp_tree

    root = ffpp_tree(tmp_path / "ffpp", compressions=["c40"], methods=["FaceSwap"])
    out = tmp_path / "m.csv"
    code = main(
        [
            "manifest",
            "ffpp",
            str(root),
            str(out),
            "--option",
            "compressions=[c40]",
            "--option",
            "methods=[FaceSwap]",
        ]
    )
    assert code == 0 and len(read_manifest(out)) == 12
    text = capsys.readouterr().out
    assert "12 of 2000 expected videos present" in text
    assert "| FaceSwap | c40 | 2 / 720 | 2 / 140 | 2 / 140 |" in text


def test_celebdf_layout_with_its_own_list_expects_no_release_sizes(celebdf):
    from istvt.data.manifest import coverage_markdown, coverage_table

    df = build_manifest("celebdf", celebdf, val_fraction=0.3, seed=1)
    table = coverage_table(df).set_index(["split", "method"])
    assert table.loc[("test", "original"), "expected"] == 2  # from its own list
    assert pd.isna(table.loc[("train+val", "original"), "expected"])  # not the release's
    assert "3 of 3 expected videos present" in coverage_markdown(coverage_table(df), "c", df)
