"""Every command a user types in README.md and docs/ is run here, so the manual cannot
drift from the code: the fast ones for real, Snakemake commands as dry runs (-n) from
the root of a copy of this checkout (config/paper.yaml's roots pointed at miniature
data trees), the long ones as --help with every option the manual uses. A command of a
kind this file does not know fails the test: add a check for it."""

import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
import tomllib
import yaml

from .conftest import REPO
from .data_trees import paper_trees
from .test_workflow import _checkout

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
STARTS = ("snakemake", "istvt", "python", "torchrun", "bash")
#: `istvt` subcommands fast enough to run for real on the shipped configs
ISTVT_REAL = {"plan", "flops"}


def commands() -> list[tuple[str, str]]:
    """(page, command) of every shell command in a bash block (or an unlabelled block
    of commands) and every inline code span that starts like a command."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for lang, block in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
            if lang not in ("bash", "sh", ""):
                continue
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("  #")[0].strip()
                if line.startswith(STARTS):
                    found += [(page.name, part.strip()) for part in line.split("&&")]
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for span in re.findall(r"`([^`]+)`", prose):  # a span may wrap onto the next line
            span = " ".join(span.split())
            if span.startswith(tuple(s + " " for s in STARTS)):
                found.append((page.name, span))
    return sorted(set(found))


def options(cmd: list[str]) -> list[str]:
    return [a.split("=")[0] for a in cmd if a.startswith("--")]


def run(args, cwd, timeout=600):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of this checkout whose config/paper.yaml reads miniature data trees."""
    base = tmp_path_factory.mktemp("docs")
    root = _checkout(base)
    trees = paper_trees(base / "data")
    paper = yaml.safe_load((root / "config" / "paper.yaml").read_text())
    for name, ds in paper["datasets"].items():
        ds["root"] = str(trees["ffpp" if ds["layout"] == "ffpp" else name])
    paper["datasets"]["deeperforensics"]["options"]["ffpp_root"] = str(trees["ffpp"])
    (root / "config" / "paper.yaml").write_text(yaml.safe_dump(paper))
    return root


@cache
def _help(*prefix: str) -> str:
    proc = run([*prefix, "--help"], REPO)
    assert proc.returncode == 0, f"{' '.join(prefix)} --help: {proc.stderr[-1000:]}"
    return proc.stdout


def _dry_key(args: list[str]) -> tuple[str, ...]:
    """A Snakemake command as its dry run sees it: the core count does not change what a
    dry run checks, so `snakemake --cores all` and `snakemake -n` are one check."""
    kept, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--cores":
            skip = True
        elif not a.startswith("--cores="):
            kept.append(a)
    if "--unlock" in kept:
        return tuple(kept)
    # options and their values in order, -n wherever the manual put it
    return ("-n", *[a for a in kept if a != "-n"])


@cache
def _dry_run(args: tuple[str, ...], root: Path) -> tuple[int, str]:
    proc = run([sys.executable, "-m", "snakemake", *args], root)
    return proc.returncode, proc.stdout[-2000:] + proc.stderr[-2000:]


def check(cmd: list[str], root: Path) -> None:
    head = cmd[0]
    if cmd[:4] == ["python", "-m", "pip", "install"]:
        extras = re.findall(r"\[(\w+)\]", " ".join(cmd))
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        assert set(extras) <= set(project["optional-dependencies"]), extras
    elif cmd[:3] == ["python", "-m", "pytest"]:
        assert "python -m pytest" in (REPO / ".ci" / "run").read_text()
    elif head == "snakemake":
        if "--report" in cmd:  # needs a finished run: tests/test_workflow.py makes one
            assert "--report" in _help(sys.executable, "-m", "snakemake")
            return
        for opt in options(cmd):  # a dry run shared with another command skips none
            assert opt in _help(sys.executable, "-m", "snakemake"), f"snakemake has no {opt}"
        dry = [] if "-n" in cmd or "--unlock" in cmd else ["-n"]
        rc, out = _dry_run(_dry_key([*cmd[1:], *dry]), root)
        assert rc == 0, out
    elif head == "istvt":
        sub = cmd[1]
        if sub in ISTVT_REAL:
            proc = run([sys.executable, "-m", "istvt.cli", *cmd[1:]], root)
            assert proc.returncode == 0, proc.stderr[-2000:]
        text = _help(sys.executable, "-m", "istvt.cli", sub)
        for opt in options(cmd):
            assert opt in text, f"istvt {sub} has no {opt}"
    elif head == "python" and cmd[1].startswith("benchmarks/"):
        assert (REPO / cmd[1]).is_file(), cmd[1]
        text = _help(sys.executable, str(REPO / cmd[1]))
        for opt in options(cmd):
            assert opt in text, f"{cmd[1]} has no {opt}"
    elif head == "python" and cmd[1:3] == ["-m", "istvt.configdoc"]:
        proc = run([sys.executable, *cmd[1:]], root)
        assert proc.returncode == 0, proc.stdout[-2000:]
    elif head == "python" and cmd[1] == "-m" and cmd[2].startswith("istvt."):
        text = _help(sys.executable, "-m", cmd[2])  # a module's command: its options exist
        for opt in options(cmd):
            assert opt in text, f"python -m {cmd[2]} has no {opt}"
    elif head == "torchrun":  # torchrun's options, then the module's own
        split = cmd.index("-m")
        for opt in options(cmd[:split]):
            assert opt in _help("torchrun"), f"torchrun has no {opt}"
        module, rest = cmd[split + 1], cmd[split + 2 :]
        if module == "istvt.cli":
            check(["istvt", *rest], root)
        else:
            text = _help(sys.executable, "-m", module)
            assert all(opt in text for opt in options(rest)), f"{module}: {options(rest)}"
    elif head == "bash" and cmd[1].startswith("benchmarks/"):
        assert run(["bash", "-n", str(REPO / cmd[1])], REPO).returncode == 0
    else:
        pytest.fail(f"no check for this kind of command: {' '.join(cmd)}")


def test_the_manual_has_its_commands():
    found = {c for _, c in commands()}
    assert "python -m pip install -e ." in found and "snakemake --cores all" in found
    assert "istvt plan --configfile config/paper.yaml" in found
    assert len(found) > 30


def test_every_command_of_readme_and_docs_runs(checkout):
    pages = {}
    for page, line in commands():
        pages.setdefault(line, []).append(page)

    def attempt(line):
        try:
            check(shlex.split(line), checkout)
        except (AssertionError, pytest.fail.Exception, subprocess.TimeoutExpired) as exc:
            first = str(exc).splitlines()[0] if str(exc) else repr(exc)
            return f"{', '.join(sorted(set(pages[line])))}: {line}\n  {first}"
        return None

    # each check is a subprocess: two at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(attempt, sorted(pages)) if f]
    assert not failures, "\n".join(failures)


def test_every_link_and_picture_of_the_manual_exists():
    """Relative links and images of README.md and docs/ point at files that exist, and
    anchors at headings of their page."""
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", file.read_text(), re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
                if anchor not in slugs:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_a_drifted_command_fails_its_check(tmp_path):
    for drifted in (
        "istvt infer --model m.pth --no-such-option",
        "python benchmarks/no_such_script.py",
        "python -m pip install -e '.[no_such_extra]'",
        "make everything",
        "snakemake --cores all --no-such-option",  # caught by --help, before any dry run
    ):
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check(shlex.split(drifted), tmp_path)
