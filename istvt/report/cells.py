"""The cells of the paper's Tables I and II and their addresses, without torch: the
workflow checks a config's ``report`` section before any job starts."""

from __future__ import annotations

#: Table I rows / columns as the paper prints them.
FFPP_SETTINGS = {"ffpp_c23": "FF++ HQ (c23)", "ffpp_c40": "FF++ LQ (c40)"}
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
OTHER_DATASETS = {"celebdf": "Celeb-DF", "dfdc_preview": "DFDC (preview)"}
CROSS_TESTS = {
    "celebdf": "Celeb-DF",
    "dfdc": "DFDC",
    "faceshifter": "FaceShifter",
    "deeperforensics": "DeeperForensics",
}

TABLE1_CELLS = (*(f"{s}/{m}" for s in FFPP_SETTINGS for m in FFPP_METHODS), *OTHER_DATASETS)
TABLE2_CELLS = tuple(CROSS_TESTS)


def parse_cell(address: str) -> tuple[str, str, str | None]:
    """``experiment/testset[/method]`` -> (experiment, testset, method or None)."""
    parts = address.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"table cell {address!r}: expected experiment/testset[/method]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None
