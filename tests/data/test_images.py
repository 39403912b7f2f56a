from __future__ import annotations

import doctest
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from tests._paths import EXAMPLES, ROOT

from trainforge.data import images
from trainforge.data.dataset import ColumnKind
from trainforge.data.images import (
    decode_images,
    infer_image_shape,
    is_image_folder,
    looks_like_image_paths,
    read_image_folder,
)
from trainforge.data.schema import infer_schema
from trainforge.errors import EmptyData, ImagePathRefused, ImageUnreadable, UnusableTarget

DIGITS = EXAMPLES / "digits"


def save(path: Path, image: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def grey(value: int, size: tuple[int, int] = (8, 6)) -> Image.Image:
    return Image.new("L", size, value)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two classes: cat (two images) and dog (one image)."""
    root = tmp_path / "pets"
    save(root / "cat" / "1.png", grey(10))
    save(root / "cat" / "2.png", grey(20))
    save(root / "dog" / "1.png", grey(200))
    return root


def test_the_digits_example_reads_as_600_labelled_image_paths():
    dataset = read_image_folder(DIGITS)
    assert (dataset.n_rows, sorted(set(dataset.frame["label"]))) == (600, [str(d) for d in range(10)])


def test_an_image_folder_has_an_image_column_and_a_categorical_label(folder: Path):
    assert read_image_folder(folder).schema == {"path": ColumnKind.IMAGE,
                                                 "label": ColumnKind.CATEGORICAL}


def test_paths_are_absolute_and_labels_are_the_sub_folder_names(folder: Path):
    frame = read_image_folder(folder).frame
    assert frame.values.tolist() == [[str(folder / "cat" / "1.png"), "cat"],
                                     [str(folder / "cat" / "2.png"), "cat"],
                                     [str(folder / "dog" / "1.png"), "dog"]]


def test_corrupt_text_and_empty_files_are_skipped_counted_and_named(folder: Path):
    (folder / "cat" / "broken.png").write_bytes(png_bytes(grey(5))[:30])
    (folder / "cat" / "notes.txt").write_text("a cat, probably\n")
    (folder / "dog" / "empty.jpg").write_bytes(b"")
    notes: list[str] = []
    dataset = read_image_folder(folder, notes=notes)
    assert dataset.n_rows == 3
    assert any("skipped 3 files" in n and "cat/broken.png" in n and "cat/notes.txt" in n
               and "dog/empty.jpg" in n for n in notes)


def test_a_class_with_a_single_image_is_kept(folder: Path):
    assert read_image_folder(folder).frame["label"].tolist().count("dog") == 1


def test_a_folder_with_one_class_is_refused_saying_a_classifier_needs_two(folder: Path):
    shutil.rmtree(folder / "dog")
    with pytest.raises(UnusableTarget, match="needs at least two classes"):
        read_image_folder(folder)


def test_a_folder_without_readable_images_is_empty_data(tmp_path: Path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "readme.txt").write_text("no images here")
    with pytest.raises(EmptyData, match="no readable images"):
        read_image_folder(tmp_path)


def test_hidden_files_and_folders_are_ignored(folder: Path):
    save(folder / ".thumbnails" / "1.png", grey(1))
    save(folder / "cat" / ".hidden.png", grey(1))
    notes: list[str] = []
    assert (read_image_folder(folder, notes=notes).n_rows, [n for n in notes if "skip" in n]) \
        == (3, [])


def test_files_directly_in_the_folder_are_ignored_with_a_note(folder: Path):
    save(folder / "stray.png", grey(1))
    notes: list[str] = []
    dataset = read_image_folder(folder, notes=notes)
    assert dataset.n_rows == 3 and any("stray.png" in n and "ignored 1 files" in n for n in notes)


def test_the_fingerprint_does_not_depend_on_where_the_folder_lies(folder: Path, tmp_path: Path):
    copy = shutil.copytree(folder, tmp_path / "elsewhere")
    assert read_image_folder(copy).fingerprint == read_image_folder(folder).fingerprint


def test_the_fingerprint_changes_when_an_image_changes(folder: Path):
    before = read_image_folder(folder).fingerprint
    save(folder / "dog" / "1.png", grey(201))
    assert read_image_folder(folder).fingerprint != before


def test_a_folder_of_class_folders_with_images_is_an_image_folder():
    assert is_image_folder(DIGITS)


def test_a_folder_of_tables_is_not_an_image_folder(tmp_path: Path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "a.csv").write_text("x\n1\n")
    assert not is_image_folder(tmp_path)


def test_strings_ending_in_image_extensions_look_like_image_paths():
    assert looks_like_image_paths(pd.Series(["a/1.PNG", "b/2.jpeg", None, "c/3.webp"]))


def test_file_names_of_other_kinds_do_not_look_like_image_paths():
    assert not looks_like_image_paths(pd.Series(["report.pdf", "data.csv", "a.png"]))


def test_a_table_with_an_image_path_column_infers_image():
    frame = pd.DataFrame({"photo": [f"/data/shop/photos/item_{i:05d}.jpg" for i in range(30)],
                          "price": range(30)})
    assert infer_schema(frame)["photo"] is ColumnKind.IMAGE


def test_mixed_sizes_and_modes_decode_to_one_shape(tmp_path: Path):
    images = [grey(50, (10, 7)), Image.new("RGBA", (30, 30), (255, 0, 0, 255)),
              Image.new("RGB", (5, 40), (0, 0, 255)), grey(9, (12, 12)).convert("P")]
    paths = [str(save(tmp_path / f"{i}.png", im)) for i, im in enumerate(images)]
    batch = decode_images(paths, size=(16, 16), channels=3)
    assert (batch.shape, str(batch.dtype)) == ((4, 3, 16, 16), "torch.uint8")


def test_colour_images_decode_to_one_grey_channel(tmp_path: Path):
    path = save(tmp_path / "red.png", Image.new("RGB", (4, 4), (255, 0, 0)))
    assert decode_images([str(path)], size=(4, 4), channels=1).unique().tolist() == [76]


def test_transparent_pixels_become_white(tmp_path: Path):
    path = save(tmp_path / "clear.png", Image.new("RGBA", (4, 4), (0, 0, 0, 0)))
    assert decode_images([str(path)], size=(4, 4), channels=3).unique().tolist() == [255]


def test_a_16_bit_image_is_scaled_into_8_bits_not_clipped(tmp_path: Path):
    pixels = np.full((4, 4), 65_535 // 2, dtype=np.uint16)
    path = save(tmp_path / "deep.png", Image.fromarray(pixels))
    assert decode_images([str(path)], size=(4, 4), channels=1).unique().tolist() == [127]


def test_grey_pngs_decode_to_their_exact_pixels():
    path = DIGITS / "7" / "0.png"
    decoded = decode_images([str(path)], size=(28, 28), channels=1)
    assert np.array_equal(decoded[0, 0].numpy(), np.asarray(Image.open(path)))


def test_bytes_decode_like_the_file():
    path = DIGITS / "3" / "18.png"
    from_file = decode_images([str(path)], size=(20, 20), channels=3)
    assert decode_images([path.read_bytes()], size=(20, 20), channels=3).equal(from_file)


def test_relative_paths_resolve_against_the_base_dir():
    decoded = decode_images(["0/3.png"], size=(28, 28), channels=1, base_dir=DIGITS)
    assert decoded.equal(decode_images([str(DIGITS / "0" / "3.png")], size=(28, 28), channels=1))


def test_a_file_that_is_not_an_image_is_named_in_the_error(tmp_path: Path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageUnreadable, match="notes.png is not a readable image"):
        decode_images([str(DIGITS / "0" / "3.png"), str(text)], size=(8, 8), channels=1)


def test_undecodable_bytes_are_named_by_their_position():
    with pytest.raises(ImageUnreadable, match=r"image #1 is not a readable image"):
        decode_images([png_bytes(grey(1)), b"\x89PNG broken"], size=(8, 8), channels=1)


def test_a_missing_file_is_named_in_the_error(tmp_path: Path):
    with pytest.raises(ImageUnreadable, match=r"gone\.png .*no such file"):
        decode_images([str(tmp_path / "gone.png")], size=(8, 8), channels=1)


def test_grey_images_train_with_one_channel_at_their_median_size(tmp_path: Path):
    paths = [str(save(tmp_path / f"{i}.png", grey(i, (20 + i, 10 + i)))) for i in range(5)]
    assert infer_image_shape(paths) == (1, 12, 22)


def test_one_colour_image_makes_three_channels(tmp_path: Path):
    paths = [str(save(tmp_path / "a.png", grey(3))),
             str(save(tmp_path / "b.png", Image.new("RGB", (8, 6), (0, 128, 0))))]
    assert infer_image_shape(paths)[0] == 3


def test_large_images_are_shrunk_to_64_pixels_keeping_their_aspect(tmp_path: Path):
    paths = [str(save(tmp_path / "big.jpg", Image.new("RGB", (400, 200), (9, 9, 9))))]
    assert infer_image_shape(paths) == (1, 32, 64)


def test_the_examples_in_the_docstring_run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)  # the example reads examples/digits
    result = doctest.testmod(images)
    assert (result.failed, result.attempted > 0) == (0, True)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"])
def test_every_common_mode_decodes_to_rgb_and_to_grey(mode: str, tmp_path: Path):
    path = save(tmp_path / f"{mode.replace(';', '')}.tiff", Image.new(mode, (8, 6)))
    shapes = [tuple(decode_images([str(path)], size=(6, 8), channels=c).shape) for c in (1, 3)]
    assert shapes == [(1, 1, 6, 8), (1, 3, 6, 8)]


def test_a_transparent_palette_colour_becomes_white(tmp_path: Path):
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0] * 256)
    path = tmp_path / "clear.gif"
    image.save(path, transparency=0)
    assert decode_images([str(path)], size=(4, 4), channels=1).unique().tolist() == [255]


# ---- image paths named in a table: only inside the table's folder, only plain files ------------
@pytest.fixture
def table_folder(tmp_path: Path) -> Path:
    """A table's folder holding one image, images/1.png."""
    folder = tmp_path / "table"
    save(folder / "images" / "1.png", grey(10))
    return folder


def read_paths(folder: Path, *paths: str) -> pd.DataFrame:
    """The table ``folder``/pets.csv with ``paths`` in its image column, read."""
    from trainforge.data.read import read_table

    photos = [*paths, *["images/1.png"] * 27]  # enough image paths to infer the column's kind
    rows = pd.DataFrame({"photo": photos, "label": ["cat", "dog"] * (len(photos) // 2)})
    rows.to_csv(folder / "pets.csv", index=False)
    return read_table(folder / "pets.csv").frame


def test_a_relative_image_path_resolves_inside_the_tables_folder(table_folder: Path):
    frame = read_paths(table_folder, "images/1.png", "./images/../images/1.png", "images/1.png")
    assert set(frame["photo"]) == {str((table_folder / "images" / "1.png").resolve())}


def test_an_absolute_image_path_outside_the_tables_folder_is_refused_naming_the_row(
        table_folder: Path):
    with pytest.raises(ImagePathRefused, match=r"row 1, column 'photo': image path "
                                               r"'/etc/passwd\.png' leads outside the table's "
                                               r"folder; .*TRAINFORGE_IMAGE_ROOTS"):
        read_paths(table_folder, "/etc/passwd.png", "images/1.png", "images/1.png")


def test_a_dot_dot_escape_is_refused(table_folder: Path, tmp_path: Path):
    save(tmp_path / "secret.png", grey(1))
    with pytest.raises(ImagePathRefused, match=r"row 2.*'\.\./secret\.png' leads outside"):
        read_paths(table_folder, "images/1.png", "../secret.png", "images/1.png")


def test_a_symlink_leading_out_of_the_folder_is_refused_naming_the_path_as_written(
        table_folder: Path, tmp_path: Path):
    outside = save(tmp_path / "elsewhere" / "secret.png", grey(1))
    (table_folder / "images" / "link.png").symlink_to(outside)
    with pytest.raises(ImagePathRefused, match=r"'images/link\.png' leads outside") as refused:
        read_paths(table_folder, "images/link.png", "images/1.png", "images/1.png")
    assert "elsewhere" not in str(refused.value)  # the server's path is not echoed


def test_a_folder_listed_in_image_roots_may_hold_images(table_folder: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    shared = save(tmp_path / "shared" / "2.png", grey(2))
    monkeypatch.setenv("TRAINFORGE_IMAGE_ROOTS", f"/nonexistent{os.pathsep}{shared.parent}")
    frame = read_paths(table_folder, str(shared), "images/1.png", "images/1.png")
    assert frame["photo"][0] == str(shared.resolve())


def test_a_device_is_refused_as_not_a_regular_file_even_inside_a_listed_root(
        table_folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRAINFORGE_IMAGE_ROOTS", "/dev")
    with pytest.raises(ImagePathRefused, match=r"'/dev/zero' is not a regular file"):
        read_paths(table_folder, "/dev/zero", "images/1.png", "images/1.png")


def test_a_fifo_is_refused_without_waiting_for_a_writer(table_folder: Path):
    os.mkfifo(table_folder / "images" / "pipe.png")
    with pytest.raises(ImagePathRefused, match=r"'images/pipe\.png' is not a regular file"):
        read_paths(table_folder, "images/pipe.png", "images/1.png", "images/1.png")


def test_an_image_over_the_size_limit_is_refused_before_it_is_read(
        table_folder: Path, monkeypatch: pytest.MonkeyPatch):
    (table_folder / "images" / "huge.png").write_bytes(b"\0" * 2_000_001)
    monkeypatch.setenv("TRAINFORGE_MAX_IMAGE_MB", "2")
    with pytest.raises(ImagePathRefused, match=r"'images/huge\.png' is 2\.0 MB, over the 2 MB "
                                               r"limit.*TRAINFORGE_MAX_IMAGE_MB"):
        read_paths(table_folder, "images/huge.png", "images/1.png", "images/1.png")


def test_a_missing_image_is_refused_naming_the_row(table_folder: Path):
    with pytest.raises(ImagePathRefused, match=r"row 3.*'images/2\.png' names no file"):
        read_paths(table_folder, "images/1.png", "images/1.png", "images/2.png")


def test_decoding_never_reads_a_device_without_bound():
    with pytest.raises(ImageUnreadable, match=r"/dev/zero is not a readable image \(is not a "
                                              r"regular file"):
        decode_images(["/dev/zero"], size=(8, 8), channels=1)


def test_batch_prediction_checks_image_paths_like_training(table_folder: Path):
    from trainforge.data.read import read_chunks

    pd.DataFrame({"photo": ["images/1.png", "../../etc/hosts.png"]}).to_csv(
        table_folder / "new.csv", index=False)
    chunks = read_chunks(table_folder / "new.csv", chunk_rows=1, image_columns=["photo"])
    assert next(chunks)["photo"][0] == str((table_folder / "images" / "1.png").resolve())
    with pytest.raises(ImagePathRefused, match=r"row 2.*'\.\./\.\./etc/hosts\.png' leads "
                                               "outside"):
        next(chunks)


def test_a_link_out_of_an_image_folder_is_skipped_not_read(folder: Path, tmp_path: Path):
    outside = save(tmp_path / "elsewhere" / "secret.png", grey(1))
    (folder / "dog" / "2.png").symlink_to(outside)
    notes: list[str] = []
    dataset = read_image_folder(folder, notes=notes)
    assert str(folder / "dog" / "2.png") not in set(dataset.frame["path"])
    assert any("dog/2.png" in note for note in notes)
