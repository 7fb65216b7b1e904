"""Every reader on miniature copies of its dataset's layout, built here."""

import json
import shutil

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
