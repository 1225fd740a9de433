"""Importers for the user's own data: CSV tables, .npz arrays and image folders. Each bad file gives a
DatasetError that names the file and, where it applies, the row and column. Files are made in tmp_path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnstudio.core.data.arrays import load_npz
from nnstudio.core.data.images import load_image_folder
from nnstudio.core.data.tables import load_csv
from nnstudio.core.errors import DatasetError


def _csv(tmp_path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _raises(message: str, load, *args, **kwargs) -> None:
    with pytest.raises(DatasetError) as error:
        load(*args, **kwargs)
    assert message in str(error.value), str(error.value)


# -- CSV -----------------------------------------------------------------------------------------------------
PEOPLE = "age,color,height,label\n20,red,1.5,yes\n30,blue,1.7,no\n40,red,1.9,yes\n50,green,1.6,no\n"


def test_csv_standardises_numbers_and_one_hot_encodes_text(tmp_path):
    data = load_csv(_csv(tmp_path, PEOPLE), target="label")
    assert data.feature_names == ["age", "color=blue", "color=green", "color=red", "height"]
    assert data.x.shape == (4, 5) and data.x.dtype == torch.float32
    assert torch.allclose(data.x[:, 0], torch.tensor([-1.3416, -0.4472, 0.4472, 1.3416]), atol=1e-4)
    assert data.x[:, 1:4].tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert data.classes == ["no", "yes"] and data.y.tolist() == [1, 0, 1, 0] and data.task == "binary"
    assert data.name == "data.csv" and data.source.endswith("data.csv") and data.preview == "table"


def test_csv_target_defaults_to_the_last_column_and_the_task_follows_the_values(tmp_path):
    rows = "\n".join(f"{i},{i * 0.37:.2f}" for i in range(40))
    data = load_csv(_csv(tmp_path, "x,price\n" + rows + "\n"))
    assert data.task == "regression" and data.y.shape == (40, 1) and data.y.dtype == torch.float32
    assert data.preview == "curve" and data.classes == []
    few = load_csv(_csv(tmp_path, "a,b,grade\n" + "\n".join(f"{i},{i % 3},{i % 4}" for i in range(40))))
    assert few.task == "multiclass" and few.classes == ["0", "1", "2", "3"] and few.preview == "points2d"
    forced = load_csv(_csv(tmp_path, "a,b,grade\n" + "\n".join(f"{i},{i % 3},{i % 4}" for i in range(40))),
                      task="regression")
    assert forced.task == "regression"


def test_csv_delimiter_is_detected_or_given(tmp_path):
    for delimiter in (";", "\t", "|"):
        text = PEOPLE.replace(",", delimiter)
        data = load_csv(_csv(tmp_path, text), target="label")
        assert data.x.shape == (4, 5)
        assert load_csv(_csv(tmp_path, text), target="label", delimiter=delimiter).x.shape == (4, 5)


def test_csv_multiclass_task_may_be_chosen_for_two_classes(tmp_path):
    data = load_csv(_csv(tmp_path, PEOPLE), target="label", task="multiclass")
    assert data.task == "multiclass" and data.num_classes == 2


@pytest.mark.parametrize("text, options, message", [
    (PEOPLE.replace("40,red", "abc,red"), {}, "data.csv row 4, column 'age': 'abc' is not a number"),
    (PEOPLE.replace("30,blue", "nan,blue"), {}, "data.csv row 3, column 'age': 'nan' is not a usable number"),
    (PEOPLE.replace("30,blue", ",blue"), {}, "data.csv row 3, column 'age': the cell is empty"),
    (PEOPLE.replace(",blue,", ",,"), {}, "data.csv row 3, column 'color': the cell is empty"),
    (PEOPLE, {"target": "price"}, "data.csv has no target column 'price' (its columns: age, color, height, label)"),
    (PEOPLE.replace("30,blue,1.7,no", "30,blue,no"), {}, "data.csv row 3 has 3 values but the header has 4 columns"),
    ("", {}, "data.csv is empty"),
    ("\n \n", {}, "data.csv is empty"),
    ("a,b,c\n", {}, "data.csv has a header but no data rows"),
    ("a,a,c\n1,2,3\n", {}, "columns 1 and 2 are both called 'a'"),
    ("label\nyes\nno\n", {}, "data.csv has only the target column 'label'"),
    (PEOPLE.replace("yes", "no"), {}, "every sample has the same label (no)"),
    ("a,b\n1,x\n2,y\n3,z\n", {"task": "binary"}, "data.csv column 'b' has 3 classes (x, y, z) but the task is binary"),
    ("a,b\n1,x\n2,y\n", {"task": "regression"}, "data.csv row 2, column 'b': 'x' is not a number"),
    ("a,id,y\n" + "\n".join(f"{i},id{i},{i % 2}" for i in range(150)), {}, "column 'id' has 150 different values"),
])
def test_csv_problems_name_the_file_row_and_column(tmp_path, text, options, message):
    _raises(message, load_csv, _csv(tmp_path, text), **options)


def test_csv_missing_and_non_text_files(tmp_path):
    _raises("nothing.csv: no such file", load_csv, str(tmp_path / "nothing.csv"))
    (tmp_path / "binary.csv").write_bytes(b"a,b\n\xff\xfe\x00\x01,2\n")
    _raises("binary.csv is not a UTF-8 text file", load_csv, str(tmp_path / "binary.csv"))
    _raises("no CSV file chosen", load_csv, "")


def test_csv_skips_blank_lines_and_reports_real_line_numbers(tmp_path):
    text = "a,b\n1,x\n\n2,y\n\n3,x\n4,y\n5,x\noops,y\n"  # the header is row 1; "oops" is on row 9
    _raises("data.csv row 9, column 'a': 'oops' is not a number", load_csv, _csv(tmp_path, text))


# -- npz -----------------------------------------------------------------------------------------------------
def _npz(tmp_path, name: str = "arrays.npz", **arrays) -> str:
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_npz_features_and_class_labels(tmp_path):
    x = np.random.default_rng(0).normal(size=(30, 2))
    data = load_npz(_npz(tmp_path, X=x, y=np.array([5, 7, 9] * 10)))
    assert data.x.dtype == torch.float32 and torch.allclose(data.x, torch.from_numpy(x).float())
    assert data.classes == ["5", "7", "9"] and data.y.tolist()[:3] == [0, 1, 2] and data.task == "multiclass"
    assert data.preview == "points2d" and data.name == "arrays.npz"
    names = load_npz(_npz(tmp_path, X=x, y=np.array(["cat", "dog"] * 15)))
    assert names.classes == ["cat", "dog"] and names.task == "binary"


def test_npz_regression_images_and_tokens(tmp_path):
    x = np.linspace(-1, 1, 50)
    data = load_npz(_npz(tmp_path, X=x, y=x ** 2))
    assert data.task == "regression" and data.x.shape == (50, 1) and data.y.shape == (50, 1)
    assert data.preview == "curve"
    images = load_npz(_npz(tmp_path, X=np.zeros((6, 3, 4, 4), np.uint8), y=np.arange(6) % 2))
    assert images.x.shape == (6, 3, 4, 4) and images.preview == "images"
    tokens = load_npz(_npz(tmp_path, X=np.array([[0, 2, 5], [3, 4, 1]]), y=np.array([0, 1])), inputs="tokens")
    assert tokens.x.dtype == torch.long and tokens.vocab_size == 6
    several = load_npz(_npz(tmp_path, X=np.ones((4, 2)), y=np.ones((4, 3)) * 0.5), task="regression")
    assert several.y.shape == (4, 3)


class _Trap:
    """Unpickling this would create a file: the importer must never unpickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_npz_with_python_objects_is_refused_without_unpickling(tmp_path):
    trap = tmp_path / "unpickled.txt"
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = _Trap(str(trap)), _Trap(str(trap))
    path = _npz(tmp_path, X=np.zeros((2, 2)), y=objects)
    _raises("arrays.npz: array y holds Python objects", load_npz, path)
    assert not trap.exists()
    np.save(tmp_path / "pickled.npy", objects, allow_pickle=True)
    _raises("pickled.npy", load_npz, str(tmp_path / "pickled.npy"))
    assert not trap.exists()


@pytest.mark.parametrize("arrays, message", [
    ({"features": np.zeros((3, 2)), "y": np.zeros(3)}, "arrays.npz has no array X (arrays found: features, y)"),
    ({"X": np.zeros((3, 2))}, "arrays.npz has no array y (arrays found: X)"),
    ({"X": np.zeros((3, 2)), "y": np.array([0, 1])}, "arrays.npz: X has 3 samples but y has 2"),
    ({"X": np.array([[0.0, 1.0], [np.nan, 2.0], [1, 1]]), "y": np.array([0, 1, 0])},
     "arrays.npz: X holds NaN or infinite values in 1 sample; the first is sample 1, column 0 (counting from 0)"),
    ({"X": np.zeros((3, 2)), "y": np.array([0.5, np.inf, 1.0])}, "arrays.npz: y holds NaN or infinite values"),
    ({"X": np.array(["a", "b"]), "y": np.array([0, 1])}, "arrays.npz: X must hold numbers"),
    ({"X": np.zeros((2, 2)), "y": np.array([1, 1])}, "every sample has the same label (1)"),
])
def test_npz_problems_name_the_file_and_array(tmp_path, arrays, message):
    _raises(message, load_npz, _npz(tmp_path, **arrays))


def test_npz_that_is_not_an_archive(tmp_path):
    (tmp_path / "junk.npz").write_text("not numpy")
    _raises("junk.npz is not a NumPy .npz archive", load_npz, str(tmp_path / "junk.npz"))
    _raises("missing.npz: no such file", load_npz, str(tmp_path / "missing.npz"))


# -- image folders -------------------------------------------------------------------------------------------
def _image_folder(tmp_path):
    image = pytest.importorskip("PIL.Image")
    root = tmp_path / "shapes"
    for name, colour in (("red", (255, 0, 0)), ("white", (255, 255, 255))):
        (root / name).mkdir(parents=True)
        for i, size in enumerate(((10, 10), (20, 8), (5, 7))):
            image.new("RGB", size, colour).save(root / name / f"{i}.png")
        (root / name / "notes.txt").write_text("not an image")
    return root


def test_image_folder_loads_classes_from_subfolders(tmp_path):
    root = _image_folder(tmp_path)
    grey = load_image_folder(str(root), channels=1, height=12, width=16)
    assert grey.x.shape == (6, 1, 12, 16) and grey.x.dtype == torch.float32
    assert grey.classes == ["red", "white"] and grey.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert grey.preview == "images" and grey.task == "binary" and grey.name == "shapes"
    assert torch.allclose(grey.x[3:], torch.ones(1)) and grey.x[:3].max() < 0.5  # red is dark in greyscale
    colour = load_image_folder(str(root), channels=3, height=4, width=4)
    assert colour.x.shape == (6, 3, 4, 4)
    assert torch.allclose(colour.x[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_image_folder_problems_name_the_folder_or_file(tmp_path):
    root = _image_folder(tmp_path)
    (root / "blue").mkdir()
    _raises(f"class folder {root / 'blue'} holds no images", load_image_folder, str(root))
    (root / "blue" / "broken.png").write_bytes(b"\x89PNG not really")
    _raises(f"{root / 'blue' / 'broken.png'} cannot be read as an image", load_image_folder, str(root))
    _raises("needs one subfolder per class, at least two (found only 'red')", load_image_folder,
            str(_single_class(tmp_path)))
    _raises("no such folder", load_image_folder, str(tmp_path / "nowhere"))
    _raises("no image folder chosen", load_image_folder, "")


def _single_class(tmp_path):
    image = pytest.importorskip("PIL.Image")
    root = tmp_path / "single"
    (root / "red").mkdir(parents=True)
    image.new("L", (4, 4)).save(root / "red" / "a.png")
    return root
