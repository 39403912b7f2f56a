"""Images end to end: a folder of class sub-folders in; a trained, served CNN out."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.e2e._cli import trainforge

pytestmark = pytest.mark.slow  # whole journeys: trains CNNs through the CLI

pytest.importorskip("torch")

DIGITS = EXAMPLES / "digits"
PER_CLASS = 16
# 38 training images are one optimiser step an epoch, so a CNN would train 200 epochs (for
# 500 steps); what these tests check (the classes, the package, the served answers) does not
# depend on how well it learned
EPOCHS = 10



def _folder(root: Path, classes: list[str]) -> Path:
    for label in classes:
        (root / label).mkdir(parents=True)
        for image in sorted((DIGITS / label).iterdir())[:PER_CLASS]:
            shutil.copy(image, root / label / image.name)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    home = tmp_path_factory.mktemp("home")
    folder = _folder(tmp_path_factory.mktemp("data") / "digits", ["0", "1", "7"])
    (folder / "7" / "broken.png").write_bytes(b"this is not a png")
    (folder / "1" / "notes.txt").write_text("a stray text file")
    done = trainforge("train", str(folder), "--trials", "1", "--name", "digits",
                      "--max-epochs", str(EPOCHS), home=home)
    return home, folder, done


def _loaded(home: Path, ref: str = "digits") -> object:
    from trainforge.workspace import Workspace

    return Workspace(home).registry.load(ref)


def test_training_on_an_image_folder_infers_the_classes_and_registers_a_cnn(trained):
    _, _, done = trained
    assert done.returncode == 0, done.stderr
    assert "multiclass classification of 'label' (3 classes: 0, 1, 7)" in done.stdout
    assert "cnn" in done.stdout and "Registered digits:1" in done.stdout


def test_unreadable_files_in_the_folder_are_skipped_counted_and_named(trained):
    _, _, done = trained
    assert "skipped 2 files" in done.stdout
    assert "7/broken.png" in done.stdout and "1/notes.txt" in done.stdout


def test_the_report_shows_the_networks_learning_curve(trained):
    home, _, _ = trained
    html = next(home.rglob("report.html")).read_text()
    assert "Learning curve: cnn" in html


def test_the_package_keeps_weights_in_safetensors_and_no_pickle(trained):
    home, _, _ = trained
    package = next(home.rglob("manifest.json")).parent
    names = [p.name for p in package.iterdir()]
    assert any(n.endswith(".safetensors") for n in names)
    assert not any(n.endswith((".pkl", ".pt", ".pth", ".pickle")) for n in names)


def test_predicting_a_folder_writes_a_row_per_image_with_its_path(trained, tmp_path, cli):
    home, folder, _ = trained  # in this process: test_cli_journey runs predict as a new one
    done = cli("predict", "digits", str(folder / "7"), "-o", str(tmp_path / "out.csv"),
               home=home)
    out = pd.read_csv(tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    assert list(out.columns) == ["path", "prediction", "0", "1", "7"]
    assert len(out) == PER_CLASS and "skipped 1 files" in done.stderr


def test_the_served_model_answers_an_image_sent_as_base64(trained):
    from trainforge.serving.app import create_app

    home, folder, _ = trained
    image = base64.b64encode(next((folder / "0").glob("*.png")).read_bytes()).decode()
    client = TestClient(create_app({"digits": _loaded(home)}))
    answer = client.post("/v1/models/digits/predict", json={"records": [{"path": image}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0] in {"0", "1", "7"}
    assert set(answer.json()["probabilities"][0]) == {"0", "1", "7"}


def test_the_served_model_answers_each_uploaded_file(trained):
    from trainforge.serving.app import create_app

    home, folder, _ = trained
    files = [("path", (p.name, p.read_bytes(), "image/png"))
             for p in sorted((folder / "1").glob("*.png"))[:3]]
    client = TestClient(create_app({"digits": _loaded(home)}))
    answer = client.post("/v1/models/digits/predict", files=files)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3


def test_a_request_cannot_make_the_server_read_a_file_path(trained):
    from trainforge.serving.app import create_app

    home, folder, _ = trained
    path = str(next((folder / "0").glob("*.png")))
    client = TestClient(create_app({"digits": _loaded(home)}))
    answer = client.post("/v1/models/digits/predict", json={"records": [{"path": path}]})
    assert answer.status_code == 422 and "base64" in answer.text


def test_bytes_that_are_not_an_image_are_refused_naming_the_problem(trained):
    from trainforge.serving.app import create_app

    home, _, _ = trained
    junk = base64.b64encode(b"definitely not an image").decode()
    client = TestClient(create_app({"digits": _loaded(home)}))
    answer = client.post("/v1/models/digits/predict", json={"records": [{"path": junk}]})
    assert 400 <= answer.status_code < 500 and "not a readable image" in answer.text


def test_a_new_task_starts_from_the_registered_network_with_its_backbone_frozen(
        trained, tmp_path_factory):
    home, _, _ = trained
    folder = _folder(tmp_path_factory.mktemp("more") / "twos", ["2", "3"])
    done = trainforge("train", str(folder), "--trials", "1", "--name", "twos",
                      "--init-from", "digits:1", "--max-epochs", str(EPOCHS),
                      "--freeze-backbone", home=home)
    assert done.returncode == 0, done.stderr
    source = _loaded(home, "digits").model.members[0].estimator.module_  # type: ignore[attr-defined]
    target = _loaded(home, "twos").model.members[0].estimator.module_  # type: ignore[attr-defined]
    frozen = [name for name, _ in source.named_parameters() if "head" not in name]
    assert frozen and all(
        (source.state_dict()[n] == target.state_dict()[n]).all() for n in frozen)
    assert target.head.out_features == 2


def test_serving_a_network_never_imports_the_training_code(trained):
    home, folder, _ = trained
    image = next((folder / "0").glob("*.png"))
    script = (
        "import base64, sys\n"
        "from fastapi.testclient import TestClient\n"
        "from trainforge.serving.app import create_app\n"
        "from trainforge.workspace import Workspace\n"
        f"loaded = Workspace({str(home)!r}).registry.load('digits')\n"
        "client = TestClient(create_app({'digits': loaded}))\n"
        f"body = {{'records': [{{'path': base64.b64encode(open({str(image)!r}, 'rb').read())"
        ".decode()}]}\n"
        "assert client.post('/v1/models/digits/predict', json=body).status_code == 200\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.startswith(('trainforge.training', 'trainforge.runtime'))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
