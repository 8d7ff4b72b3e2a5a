"""Reading image–text pair lists (amf.pairs): CSV, TSV and JSONL round trips against an independent dense count,
labels and their shared classes, one-line errors for every bad input, and the graph and ids files."""

import csv
import json

import numpy as np
import pytest

from amf import CoOccurrence, InputError
from amf.pairs import Pairs, read_pairs, write_pairs_graph


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def dense_from_lines(records):
    """Independent reference: ids numbered by first appearance, weights summed into a dense matrix."""
    images, texts = {}, {}
    for image, text, _ in records:
        images.setdefault(str(image), len(images))
        texts.setdefault(str(text), len(texts))
    dense = np.zeros((len(images), len(texts)))
    for image, text, weight in records:
        dense[images[str(image)], texts[str(text)]] += weight
    return dense, list(images), list(texts)


def dense_of(pairs: Pairs) -> np.ndarray:
    dense = np.zeros(pairs.shape)
    np.add.at(dense, (pairs.rows, pairs.cols), pairs.weights)
    return dense


def check_pairs(pairs: Pairs, records):
    dense, image_ids, text_ids = dense_from_lines(records)
    assert pairs.rows.dtype == pairs.cols.dtype == np.int64 and pairs.weights.dtype == np.float64
    assert pairs.shape == dense.shape and pairs.image_ids == image_ids and pairs.text_ids == text_ids
    assert pairs.lines == len(records)
    keys = pairs.rows * pairs.shape[1] + pairs.cols
    assert np.all(np.diff(keys) > 0)  # unique edges, row-major
    np.testing.assert_array_equal(dense_of(pairs), dense)


RECORDS = [("a", "x", 1), ("b", "y", 1), ("a", "x", 1), ("c", "x", 1), ("b", "z", 1), ("a", "x", 1)]


@pytest.mark.parametrize("chunk_lines", [1, 2, 1_000_000])
def test_csv_string_ids_and_duplicates_add_up(tmp_path, chunk_lines):
    path = write(tmp_path / "p.csv", "image,text,extra\n" + "".join(f"{i},{t},q\n" for i, t, _ in RECORDS))
    pairs = read_pairs(path, chunk_lines=chunk_lines)
    check_pairs(pairs, RECORDS)
    assert pairs.image_ids == ["a", "b", "c"] and pairs.text_ids == ["x", "y", "z"]
    assert dense_of(pairs)[0, 0] == 3 and pairs.image_labels is None and pairs.text_label_values is None


def test_tsv_weights_column_blank_lines_and_bom(tmp_path):
    records = [("7", "cap one", 0.5), ("8", "cap two", 2.0), ("7", "cap one", 0.25), ("8", "cap one", 0.0)]
    body = "".join(f"{w}\t{t}\t{i}\n\n" for i, t, w in records)
    path = tmp_path / "p.tsv"
    path.write_bytes(("\ufeffweight\ttext\t image \n" + body).encode("utf-8"))
    pairs = read_pairs(path, weight_col="weight", chunk_lines=3)
    check_pairs(pairs, records)
    assert pairs.weights.tolist() == [0.75, 0.0, 2.0]


def test_jsonl_ids_as_strings_and_ints_are_the_same_id(tmp_path):
    records = [(7, "x", 1.5), ("7", 3, 1), (8, "3", 2), ("8", "x", 1)]
    lines = [json.dumps({"img": i, "txt": t, "w": w, "other": [1]}) for i, t, w in records]
    path = write(tmp_path / "p.jsonl", "\n".join(lines[:2]) + "\n   \n" + "\n".join(lines[2:]) + "\n")
    pairs = read_pairs(path, image_col="img", text_col="txt", weight_col="w", chunk_lines=2)
    check_pairs(pairs, records)
    assert pairs.image_ids == ["7", "8"] and pairs.text_ids == ["x", "3"]


def test_csv_quoting(tmp_path):
    path = tmp_path / "p.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "text"])
        writer.writerows([["img,1", 'a "quoted", caption'], ["img2", "two\nlines"], ["img,1", "plain"]])
    pairs = read_pairs(path)
    assert pairs.image_ids == ["img,1", "img2"] and pairs.text_ids == ['a "quoted", caption', "two\nlines", "plain"]
    assert pairs.lines == 3 and dense_of(pairs).tolist() == [[1, 0, 1], [0, 1, 0]]


def test_labels_share_classes_and_unknown_texts_get_minus_one(tmp_path):
    text = (
        "image,text,il,tl\n"
        "i1,t1,cat,\n"        # t1 unlabeled here, labeled 'dog' on the last line
        "i2,t2,dog,cat\n"
        "i1,t3,,\n"           # i1's label comes from its first line; t3 stays unknown
        "i3,t2,bird,cat\n"
        "i2,t1,dog,dog\n"
    )
    pairs = read_pairs(write(tmp_path / "p.csv", text), image_label_col="il", text_label_col="tl")
    assert pairs.image_ids == ["i1", "i2", "i3"] and pairs.text_ids == ["t1", "t2", "t3"]
    assert pairs.image_label_values == pairs.text_label_values == ["cat", "dog", "bird"]
    assert pairs.image_labels.dtype == pairs.text_labels.dtype == np.int64
    assert pairs.image_labels.tolist() == [0, 1, 2] and pairs.text_labels.tolist() == [1, 0, -1]
    values = pairs.image_label_values
    assert [values[c] for c in pairs.image_labels] == ["cat", "dog", "bird"]


def test_jsonl_labels_keep_their_values(tmp_path):
    lines = [{"image": 1, "text": "a", "y": 3, "z": None}, {"image": 2, "text": "b", "y": "x"}, {"image": 1,
             "text": "b", "y": "3", "z": 3}]
    path = write(tmp_path / "p.jsonl", "".join(json.dumps(obj) + "\n" for obj in lines))
    pairs = read_pairs(path, image_label_col="y", text_label_col="z")
    assert pairs.image_label_values == [3, "x"] and pairs.image_labels.tolist() == [0, 1]
    assert pairs.text_labels.tolist() == [-1, 0]


def test_write_pairs_graph_loads_and_maps_back(tmp_path):
    rng = np.random.default_rng(0)
    records = [(f"im{i}", int(t), float(w)) for i, t, w in zip(rng.integers(0, 12, 200), rng.integers(0, 9, 200),
                                                              rng.integers(1, 5, 200) / 4)]
    labels = {f"im{i}": f"c{i % 3}" for i in range(12)}
    path = tmp_path / "pairs.csv"
    write(path, "image,text,weight,label\n" + "".join(f"{i},{t},{w},{labels[i]}\n" for i, t, w in records))
    pairs = read_pairs(path, weight_col="weight", image_label_col="label")
    check_pairs(pairs, records)

    ids_path = write_pairs_graph(pairs, tmp_path / "out" / "g.npz")
    assert ids_path == tmp_path / "out" / "g.ids.json"
    graph = CoOccurrence.load(tmp_path / "out" / "g.npz")
    ids = json.loads(ids_path.read_text())
    assert set(ids) == {"images", "texts", "image_labels", "text_labels"} and ids["text_labels"] is None
    assert graph.shape == (len(ids["images"]), len(ids["texts"])) and graph.text_labels is None
    with np.load(tmp_path / "out" / "g.npz", allow_pickle=False) as data:
        rows, cols, weights = data["rows"], data["cols"], data["weights"]
        assert data["shape"].tolist() == list(pairs.shape) and "text_labels" not in data.files
    # a few entries, by id, against the raw lines
    total = sum(w for _, _, w in records)
    joint = graph.joint.toarray()
    for image, text in [records[0][:2], records[17][:2], records[-1][:2], ("im3", 4)]:
        expected = sum(w for i, t, w in records if i == image and t == text)
        i, j = ids["images"].index(image), ids["texts"].index(str(text))
        assert weights[(rows == i) & (cols == j)].sum() == expected
        assert joint[i, j] == pytest.approx(expected / total, rel=1e-12)
    for i, image in enumerate(ids["images"]):
        assert ids["image_labels"][graph.image_labels[i]] == labels[image]


def test_write_pairs_graph_validates_before_writing(tmp_path):
    path = write(tmp_path / "p.csv", "image,text,w\na,x,1\nb,x,0\n")  # image b has no edge of positive weight
    pairs = read_pairs(path, weight_col="w")
    with pytest.raises(InputError, match="no edge") as info:
        write_pairs_graph(pairs, tmp_path / "g.npz")
    assert "\n" not in str(info.value)
    assert not any(p.name.startswith("g") for p in tmp_path.iterdir())


HEADER = "image,text,w,il,tl\n"


@pytest.mark.parametrize(
    "name, content, options, message",
    [
        ("p.csv", None, {}, "p.csv: cannot read"),
        ("p.txt", "image,text\na,b\n", {}, "unknown suffix '.txt'"),
        ("p.csv", "", {}, "empty file"),
        ("p.csv", "\n\n", {}, "empty file"),
        ("p.jsonl", "\n  \n", {}, "no pairs"),
        ("p.csv", "image,text\n", {}, "no pairs"),
        ("p.csv", "image,caption\na,b\n", {}, "line 1: no column 'text' in the header (columns: 'image', 'caption')"),
        ("p.csv", "image,text\na,b\n", dict(weight_col="w"), "no column 'w'"),
        ("p.csv", "image,text,text\na,b,c\n", {}, "more than one column 'text'"),
        ("p.csv", "image,text\na,b\nc\n", {}, "line 3: missing field"),
        ("p.csv", "image,text\na,b\n,b\n", {}, "line 3: empty image id"),
        ("p.csv", 'image,text\na,b\n"c,d\n', {}, "malformed CSV"),
        ("p.csv", 'image,text\n"a"x,b\n', {}, "line 2: malformed CSV"),
        ("p.tsv", "image\ttext\na\tb\tc\nd\n", {}, "line 3: missing field"),
        ("p.jsonl", '{"image": 1, "text": 2}\n{"image": 1, "text": \n', {}, "line 2: malformed JSON"),
        ("p.jsonl", '{"image": 1, "text": 2}\n[1, 2]\n', {}, "line 2: not a JSON object (got list)"),
        ("p.jsonl", '{"image": 1, "text": 2}\n{"image": 1}\n', {}, "line 2: missing field 'text' (keys: 'image')"),
        ("p.jsonl", '{"image": 1.5, "text": 2}\n', {}, "line 1: image id 1.5 is not a string or an integer"),
        ("p.jsonl", '{"image": 1, "text": null}\n', {}, "line 1: text id None is not a string or an integer"),
        ("p.jsonl", '{"image": 1, "text": ""}\n', {}, "line 1: empty text id"),
        ("p.jsonl", '{"image": 1, "text": 2}\n', dict(weight_col="w"), "line 1: missing field 'w'"),
        ("p.csv", HEADER + "a,b,1,,\na,b,x,,\n", dict(weight_col="w"), "line 3: bad weight 'x': not a number"),
        ("p.csv", HEADER + "a,b,-1,,\n", dict(weight_col="w"), "line 2: bad weight '-1': must be finite and >= 0"),
        ("p.csv", HEADER + "a,b,nan,,\n", dict(weight_col="w"), "line 2: bad weight 'nan'"),
        ("p.csv", HEADER + "a,b,inf,,\n", dict(weight_col="w"), "line 2: bad weight 'inf'"),
        ("p.csv", HEADER + "a,b,,,\n", dict(weight_col="w"), "line 2: bad weight ''"),
        ("p.jsonl", '{"image": 1, "text": 2, "w": "2"}\n', dict(weight_col="w"), "line 1: bad weight '2': not a"),
        ("p.jsonl", '{"image": 1, "text": 2, "w": true}\n', dict(weight_col="w"), "line 1: bad weight True"),
        ("p.jsonl", '{"image": 1, "text": 2, "w": NaN}\n', dict(weight_col="w"), "line 1: bad weight nan"),
        ("p.jsonl", '{"image": 1, "text": 2, "w": 1e999}\n', dict(weight_col="w"), "line 1: bad weight inf"),
        ("p.csv", HEADER + "a,b,1,c1,\nd,e,1,c2,\na,e,1,c2,\n", dict(image_label_col="il"),
         "line 4: image 'a' has label 'c2' in column 'il', but 'c1' on an earlier line"),
        ("p.csv", HEADER + "a,b,1,,c1\nd,b,1,,\na,b,1,,c2\n", dict(text_label_col="tl"),
         "line 4: text 'b' has label 'c2'"),
        ("p.jsonl", '{"image": 1, "text": 2, "y": 3}\n{"image": "1", "text": 2, "y": 4}\n',
         dict(image_label_col="y"), "line 2: image '1' has label 4"),
        ("p.jsonl", '{"image": 1, "text": 2, "y": [3]}\n', dict(image_label_col="y"), "line 1: label [3] is not"),
        ("p.csv", HEADER + "a,b,1,c1,\nd,b,1,,\nd,e,1,,\n", dict(image_label_col="il"),
         "1 image(s) have no label in column 'il' on any line (first: image 'd'; --missing-label"),
    ],
)
def test_bad_input_is_one_line_input_error(tmp_path, name, content, options, message):
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(InputError) as info:
        read_pairs(path, **options)
    text = str(info.value)
    assert "\n" not in text and str(path) in text and message in text, text


def test_unreadable_inputs(tmp_path):
    (tmp_path / "d.csv").mkdir()
    (tmp_path / "bad.csv").write_bytes(b"image,text\na,\xff\n")
    for path, message in [(tmp_path / "d.csv", "cannot read"), (tmp_path / "bad.csv", "not UTF-8")]:
        with pytest.raises(InputError, match=message) as info:
            read_pairs(path)
        assert "\n" not in str(info.value)


def test_the_command_line_writes_the_graph_and_its_mapping(tmp_path, capsys):
    from amf.cli import main

    path = tmp_path / "pairs.csv"
    path.write_text("image,text,label\nimg-a,cap-1,cat\nimg-b,cap-1,dog\nimg-a,cap-2,cat\nimg-b,cap-2,dog\n")
    out = tmp_path / "g.npz"
    assert main(["graph", "from-pairs", str(path), "--out", str(out), "--image-label-col", "label"]) == 0
    graph = CoOccurrence.load(out)
    assert graph.shape == (2, 2) and graph.nnz == 4 and list(graph.image_labels) == [0, 1]
    assert json.loads((tmp_path / "g.ids.json").read_text())["images"] == ["img-a", "img-b"]
    capsys.readouterr()
    assert main(["graph", "from-pairs", str(path), "--out", str(path)]) == 2  # the input is no output
    err = capsys.readouterr().err.strip()
    assert "is an input" in err and "\n" not in err
    assert main(["graph", "from-pairs", str(tmp_path / "none.csv"), "--out", str(tmp_path / "h.npz")]) == 2
    assert not (tmp_path / "h.npz").exists()


def test_missing_image_labels_error_drop_or_unknown(tmp_path, capsys):
    """Image 'd' has no label: refused by default; dropped with its pairs (and text 'f', left without a pair) and
    the rest renumbered; or given a class of its own, null in the ids file. Checked against the dense joint."""
    from amf.cli import main

    path = tmp_path / "p.csv"
    write(path, HEADER + "a,b,1,c1,\nd,b,2,,\nd,f,3,,\ng,e,4,c2,t2\n")
    with pytest.raises(InputError, match="1 image\\(s\\) have no label"):
        read_pairs(path, image_label_col="il", text_label_col="tl")
    dropped = read_pairs(path, weight_col="w", image_label_col="il", text_label_col="tl", missing_label="drop")
    assert dropped.image_ids == ["a", "g"] and dropped.text_ids == ["b", "e"] and dropped.dropped == (1, 1)
    dense = np.zeros(dropped.shape)
    np.add.at(dense, (dropped.rows, dropped.cols), dropped.weights)
    np.testing.assert_array_equal(dense, [[1.0, 0.0], [0.0, 4.0]])
    assert list(dropped.image_labels) == [0, 1] and list(dropped.text_labels) == [-1, 2]
    unknown = read_pairs(path, weight_col="w", image_label_col="il", missing_label="unknown")
    assert unknown.shape == (3, 3) and unknown.unlabeled_images == 1 and unknown.dropped == (0, 0)
    assert list(unknown.image_labels) == [0, 2, 1] and unknown.image_label_values == ["c1", "c2", None]
    with pytest.raises(InputError, match="missing_label must be one of"):
        read_pairs(path, image_label_col="il", missing_label="skip")
    out = tmp_path / "g.npz"
    assert main(["graph", "from-pairs", str(path), "--out", str(out), "--image-label-col", "il", "--missing-label",
                 "unknown"]) == 0
    assert json.loads((tmp_path / "g.ids.json").read_text())["image_labels"] == ["c1", "c2", None]
    assert "1 image(s) had no label" in capsys.readouterr().out
    assert main(["graph", "from-pairs", str(path), "--out", str(out), "--image-label-col", "il"]) == 2
    assert main(["graph", "from-pairs", str(path), "--out", str(tmp_path / "h.npz"), "--image-label-col", "il",
                 "--missing-label", "drop"]) == 0
    assert CoOccurrence.load(tmp_path / "h.npz").shape == (2, 2)
