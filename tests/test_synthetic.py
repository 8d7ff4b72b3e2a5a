"""Tests of the synthetic graph generators (``synthetic``): closed forms against independent dense numpy,
reproducibility, node coverage, labels, parameter validation, the ``generate`` registry, planted class structure."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

import synthetic as S
from synthetic import Edges

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------------------------
# independent dense reference (does not use Edges.dense or any closed form)


def dense_reference(e: Edges) -> dict:
    n_v, n_l = e.shape
    w = np.zeros((n_v, n_l))
    np.add.at(w, (e.rows, e.cols), e.weights)
    p = w / w.sum()
    p_v, p_l = p.sum(axis=1), p.sum(axis=0)
    pn = np.diag(p_v ** -0.5) @ p @ np.diag(p_l ** -0.5)
    s = np.linalg.svd(pn, compute_uv=False)
    y_v, y_l = e.image_labels, e.text_labels
    alpha = p[y_v[:, None] != y_l[None, :]].sum()
    a_v = p @ np.diag(1.0 / p_l) @ p.T
    phi = a_v[y_v[:, None] != y_v[None, :]].sum()
    return dict(s=s, alpha=alpha, phi=phi, n_components=n_components(e), p_v=p_v, p_l=p_l, a_v=a_v)


def n_components(e: Edges) -> int:
    """Connected components of the bipartite graph (images 0..N_V-1, texts N_V..)."""
    n_v, n_l = e.shape
    adj = coo_array((e.weights, (e.rows, e.cols + n_v)), shape=(n_v + n_l, n_v + n_l))
    return connected_components(adj, directed=False)[0]


def assert_well_formed(e: Edges, model: str) -> None:
    n_v, n_l = e.shape
    assert e.model == model
    assert e.rows.dtype == np.int64 and e.cols.dtype == np.int64 and e.weights.dtype == np.float64
    assert e.rows.shape == e.cols.shape == e.weights.shape == (e.nnz,)
    assert 0 <= e.rows.min() and e.rows.max() < n_v and 0 <= e.cols.min() and e.cols.max() < n_l
    assert np.all(np.isfinite(e.weights)) and np.all(e.weights >= 0)
    # every image and every text has positive mass (positive marginals)
    assert np.all(np.bincount(e.rows, weights=e.weights, minlength=n_v) > 0)
    assert np.all(np.bincount(e.cols, weights=e.weights, minlength=n_l) > 0)
    assert e.image_labels.dtype == np.int64 and e.image_labels.shape == (n_v,) and e.image_labels.min() >= 0
    assert e.text_labels.dtype == np.int64 and e.text_labels.shape == (n_l,) and e.text_labels.min() >= -1
    e.validate()
    json.dumps(e.params)


def same_edges(a: Edges, b: Edges) -> bool:
    return (a.shape == b.shape and np.array_equal(a.rows, b.rows) and np.array_equal(a.cols, b.cols)
            and np.array_equal(a.weights, b.weights) and np.array_equal(a.image_labels, b.image_labels)
            and np.array_equal(a.text_labels, b.text_labels))


# ---------------------------------------------------------------------------------------------------------------
# block model


@SETTINGS
@given(r=st.integers(2, 5), n=st.integers(1, 5), m=st.integers(1, 5),
       a=st.floats(0.05, 5.0), b=st.one_of(st.just(0.0), st.floats(0.0, 5.0)))
def test_block_closed_form_matches_dense(r, n, m, a, b):
    e = S.block_model(n_classes=r, images_per_class=n, texts_per_class=m, within=a, across=b)
    assert_well_formed(e, "block")
    assert e.shape == (r * n, r * m)
    cf = S.block_model_closed_form(n_classes=r, within=a, across=b, images_per_class=n, texts_per_class=m)
    ref = dense_reference(e)
    assert cf["singular_values"].shape == (min(r * n, r * m),)
    np.testing.assert_allclose(cf["singular_values"], ref["s"], atol=1e-10)
    assert cf["alpha"] == pytest.approx(ref["alpha"], abs=1e-12)
    assert cf["phi"] == pytest.approx(ref["phi"], abs=1e-12)
    assert cf["n_components"] == ref["n_components"]
    assert ref["phi"] <= 2 * ref["alpha"] + 1e-12  # THEORY T4: every text labeled


def test_block_structure_and_labels():
    e = S.block_model(n_classes=3, images_per_class=2, texts_per_class=4, within=2.0, across=0.5)
    w = e.dense()
    same = e.image_labels[:, None] == e.text_labels[None, :]
    assert np.all(w[same] == 2.0) and np.all(w[~same] == 0.5)
    np.testing.assert_array_equal(e.image_labels, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(e.text_labels, np.repeat([0, 1, 2], 4))
    e0 = S.block_model(n_classes=3, images_per_class=2, texts_per_class=4, across=0.0)
    assert e0.nnz == 3 * 2 * 4 and np.all(e0.weights > 0)
    np.testing.assert_array_equal(e0.dense() > 0, same)


# ---------------------------------------------------------------------------------------------------------------
# diversity model


@SETTINGS
@given(r=st.integers(2, 4), g=st.integers(1, 3), n=st.integers(1, 3), m=st.integers(1, 3),
       d=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)),
       eps=st.one_of(st.just(0.0), st.floats(0.0, 2.0)))
def test_diversity_closed_form_matches_dense(r, g, n, m, d, eps):
    kw = dict(n_classes=r, styles_per_class=g, images_per_style=n, texts_per_style=m, diversity=d, noise=eps)
    e = S.diversity_model(**kw)
    assert_well_formed(e, "diversity")
    cf = S.diversity_model_closed_form(**kw)
    ref = dense_reference(e)
    np.testing.assert_allclose(cf["singular_values"], ref["s"], atol=1e-10)
    assert cf["alpha"] == pytest.approx(ref["alpha"], abs=1e-12)
    assert cf["phi"] == pytest.approx(ref["phi"], abs=1e-12)
    assert cf["n_components"] == ref["n_components"]


def test_diversity_weights():
    e = S.diversity_model(n_classes=2, styles_per_class=2, images_per_style=1, texts_per_style=1,
                          diversity=0.3, noise=0.01)
    np.testing.assert_allclose(e.dense(), [[1, 0.3, 0.01, 0.01], [0.3, 1, 0.01, 0.01],
                                           [0.01, 0.01, 1, 0.3], [0.01, 0.01, 0.3, 1]])
    np.testing.assert_array_equal(e.image_labels, [0, 0, 1, 1])


@pytest.mark.parametrize("r,g", [(4, 3), (3, 4)])
def test_diversity_low_closes_the_gap_high_opens_it(r, g):
    kw = dict(n_classes=r, styles_per_class=g, images_per_style=5, texts_per_style=3)
    low = dense_reference(S.diversity_model(**kw, diversity=0.0, noise=0.001))["s"]
    high = dense_reference(S.diversity_model(**kw, diversity=1.0, noise=0.001))["s"]
    # low diversity: about r g singular values near 1, so at k = r the gap 1 - s_{r+1}^2 closes
    assert np.all(low[: r * g] > 0.95) and np.all(low[r * g:] < 1e-8)
    assert 1 - low[r] ** 2 < 0.1
    # high diversity: r singular values near 1, then s_{r+1} = 0
    assert np.all(high[:r] > 0.95) and high[r] < 1e-8


# ---------------------------------------------------------------------------------------------------------------
# augmentation model


@SETTINGS
@given(r=st.integers(1, 4), n=st.integers(1, 6), v=st.integers(1, 4),
       s=st.one_of(st.just(0.0), st.floats(0.0, 0.99)), seed=st.integers(0, 2**32))
def test_augmentation_structure(r, n, v, s, seed):
    e = S.augmentation_model(n_classes=r, images_per_class=n, views_per_image=v, strength=s, seed=seed)
    assert_well_formed(e, "augmentation")
    assert e.shape == (r * n * v, r * n)
    source = np.arange(r * n * v) // v
    np.testing.assert_array_equal(e.image_labels, source // n)
    np.testing.assert_array_equal(e.text_labels, np.arange(r * n) // n)
    own = e.cols == source[e.rows]
    assert np.all(e.weights[own] == 1.0) and own.sum() == r * n * v
    other = ~own
    assert other.sum() == (r * n * v if (s > 0 and n >= 2) else 0)
    assert np.all(e.weights[other] == s)
    assert np.all(e.image_labels[e.rows] == e.text_labels[e.cols])  # nothing across classes
    if other.any():
        assert np.bincount(e.rows[other], minlength=r * n * v).max() == 1  # exactly ONE other source per view


def test_augmentation_is_consistent_but_poorly_connected():
    r = 4
    e = S.augmentation_model(n_classes=r, images_per_class=8, views_per_image=4, strength=0.05, seed=1)
    ref = dense_reference(e)
    assert ref["alpha"] == 0 and ref["phi"] == pytest.approx(0, abs=1e-15)
    assert ref["n_components"] == r
    assert ref["s"][r] > 0.9  # eigenvalues near 1 beyond r: small spectral gap inside a class
    assert dense_reference(S.augmentation_model(n_classes=r, strength=0.0))["n_components"] == r * 8


# ---------------------------------------------------------------------------------------------------------------
# planted model


@SETTINGS
@given(n_v=st.integers(1, 300), n_l=st.integers(1, 300), k=st.integers(1, 8), extra=st.integers(0, 2000),
       eps=st.floats(0, 1), gamma=st.sampled_from([1.05, 1.5, 2.5, 4.0, float("inf")]),
       flip=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_planted_well_formed(n_v, n_l, k, extra, eps, gamma, flip, seed):
    k = min(k, n_v, n_l)
    flip = flip if k >= 2 else 0.0
    n_e = n_v + n_l + extra
    e = S.planted_model(n_images=n_v, n_texts=n_l, n_edges=n_e, n_classes=k, noise=eps, degree_exponent=gamma,
                        label_noise=flip, seed=seed)
    assert_well_formed(e, "planted")
    assert e.shape == (n_v, n_l) and e.nnz == n_e and np.all(e.weights == 1.0)
    assert e.image_labels.max() < k and e.text_labels.max() < k
    # balanced classes: sizes differ by at most one
    sizes = np.bincount(e.image_labels, minlength=k)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == n_v


@pytest.mark.parametrize("eps,gamma,tol", [(0.3, float("inf"), 0.01), (0.3, 2.5, 0.02), (0.1, 2.5, 0.02),
                                           (1.0, float("inf"), 0.015)])
def test_planted_within_class_mass(eps, gamma, tol):
    k = 4
    e = S.planted_model(n_images=4000, n_texts=3000, n_edges=40000, n_classes=k, noise=eps, degree_exponent=gamma,
                        seed=7)
    within = np.sum(e.weights * (e.image_labels[e.rows] == e.text_labels[e.cols])) / e.weights.sum()
    expected = 1 - eps * (1 - 1 / k)  # a class-random text lands in the image's class with prob ~ 1/k
    assert within == pytest.approx(expected, abs=tol)


def test_planted_noise_zero_is_pure():
    e = S.planted_model(n_images=500, n_texts=700, n_edges=5000, n_classes=5, noise=0.0, seed=3)
    assert np.all(e.image_labels[e.rows] == e.text_labels[e.cols])
    assert n_components(e) >= 5


def test_planted_heavy_tail():
    kw = dict(n_images=2000, n_texts=2000, n_edges=20000, n_classes=4, seed=5)
    flat = S.planted_model(**kw, degree_exponent=float("inf"))
    heavy = S.planted_model(**kw, degree_exponent=2.1)
    assert np.bincount(heavy.rows).max() > 4 * np.bincount(flat.rows).max()
    assert np.bincount(heavy.cols).max() > 4 * np.bincount(flat.cols).max()


def test_planted_label_noise_changes_labels_only():
    kw = dict(n_images=3000, n_texts=5000, n_edges=20000, n_classes=6, noise=0.2, seed=11)
    clean = S.planted_model(**kw)
    noisy = S.planted_model(**kw, label_noise=0.25)
    assert np.array_equal(clean.rows, noisy.rows) and np.array_equal(clean.cols, noisy.cols)
    assert np.array_equal(clean.image_labels, noisy.image_labels)
    flipped = np.mean(clean.text_labels != noisy.text_labels)
    assert flipped == pytest.approx(0.25, abs=4 * np.sqrt(0.25 * 0.75 / 5000))


def test_planted_minimal_edges_covers_every_node():
    e = S.planted_model(n_images=37, n_texts=101, n_edges=138, n_classes=7, noise=0.0, seed=2)
    assert_well_formed(e, "planted")
    # the skeleton alone: each image draws one text, each text one image, inside its class
    assert np.all(np.bincount(e.rows[:37], minlength=37) == 1) and np.all(np.bincount(e.cols[37:], minlength=101) == 1)
    assert np.all(e.image_labels[e.rows] == e.text_labels[e.cols])


def test_planted_power_law_graph_is_connected_within_classes():
    """Low-activity nodes hang on their class's hubs: no swarm of two-node components (s = 1 stays simple)."""
    import scipy.sparse as sp
    from scipy.sparse import csgraph

    e = S.planted_model(n_images=20000, n_texts=20000, n_edges=200000, n_classes=8, noise=0.05, seed=1)
    w = sp.csr_array((e.weights, (e.rows, e.cols)), shape=e.shape)
    n_components = csgraph.connected_components(sp.block_array([[None, w], [w.T, None]]), directed=False)[0]
    assert n_components == 1


# ---------------------------------------------------------------------------------------------------------------
# reproducibility, params round trip, arrays()


@pytest.mark.parametrize("name", sorted(S.MODELS))
def test_reproducible_and_params_round_trip(name):
    small = {"planted": dict(n_images=300, n_texts=200, n_edges=3000)}.get(name, {})
    a = S.generate(name, seed=4, **small)
    b = S.generate(name, seed=4, **small)
    assert_well_formed(a, name)
    assert same_edges(a, b)
    assert a.params["seed"] == 4 and set(a.params) == set(S.MODELS[name].defaults) | {"seed"}
    assert same_edges(S.MODELS[name].fn(**json.loads(json.dumps(a.params))), a)
    if name in ("planted", "augmentation", "matched"):
        assert not same_edges(a, S.generate(name, seed=5, **small))


@pytest.mark.parametrize("name", sorted(S.MODELS))
def test_arrays_is_the_contract_npz(name):
    e = S.generate(name, **({"n_images": 50, "n_texts": 60, "n_edges": 500} if name == "planted" else {}))
    buf = io.BytesIO()
    np.savez(buf, **e.arrays())
    buf.seek(0)
    with np.load(buf) as f:
        assert set(f.files) == {"rows", "cols", "weights", "shape", "image_labels", "text_labels"}
        assert f["shape"].dtype == np.int64 and tuple(f["shape"]) == e.shape
        np.testing.assert_array_equal(f["rows"], e.rows)
        np.testing.assert_array_equal(f["text_labels"], e.text_labels)
    bare = Edges(e.rows, e.cols, e.weights, e.shape, None, None, "x", {})
    assert set(bare.arrays()) == {"rows", "cols", "weights", "shape"}


def test_edges_validate_rejects_isolated_nodes():
    ok = Edges(np.array([0, 1]), np.array([0, 0]), np.array([1.0, 2.0]), (2, 2))
    with pytest.raises(ValueError, match="text has no positive-weight edge"):
        ok.validate()
    zero = Edges(np.array([0, 1]), np.array([0, 1]), np.array([1.0, 0.0]), (2, 2))
    with pytest.raises(ValueError, match="image has no positive-weight edge"):
        zero.validate()
    with pytest.raises(ValueError, match="max_entries"):
        S.planted_model(n_images=10**4, n_texts=10**4, n_edges=2 * 10**4).dense()


def test_models_registry():
    assert set(S.MODELS) == {"block", "diversity", "planted", "augmentation", "matched"}
    for name, model in S.MODELS.items():
        assert model.name == name and callable(model.fn) and model.description
        assert "seed" not in model.defaults
    assert S.MODELS["block"].defaults == dict(n_classes=4, images_per_class=8, texts_per_class=6, within=1.0,
                                              across=0.1)


# ---------------------------------------------------------------------------------------------------------------
# generate(): string conversion and errors


def test_generate_converts_strings():
    e = S.generate("block", n_classes="3", within="2.5", across="0", images_per_class="1e1", seed="2")
    ref = S.block_model(n_classes=3, within=2.5, across=0.0, images_per_class=10, seed=2)
    assert same_edges(e, ref) and e.params == ref.params
    assert isinstance(e.params["across"], float) and isinstance(e.params["images_per_class"], int)
    p = S.generate("planted", n_images="200", n_texts="100", n_edges="2e3", noise="0.5",
                   degree_exponent="inf", seed=1)
    assert p.params["n_edges"] == 2000 and p.params["degree_exponent"] == float("inf")


def test_generate_reads_strings_as_set_values(monkeypatch):
    """Strings are read by the one ``--set`` reader (TOML): booleans are true/false, nothing else."""
    seen = {}

    def fake(*, flag=False, seed=0):
        seen["flag"] = flag
        return S.block_model(seed=seed)

    monkeypatch.setitem(S.MODELS, "fake", S.Model("fake", fake, "test", {"flag": False}))
    for text, value in [("true", True), ("false", False)]:
        S.generate("fake", flag=text)
        assert seen["flag"] is value


@pytest.mark.parametrize("params,match", [
    (dict(n_classes="abc"), r"^n_classes must be an integer >= 2, got 'abc'$"),
    (dict(n_classes="2.5"), r"^n_classes must be an integer >= 2, got 2.5$"),
    (dict(within="lots"), r"^within must be a number > 0, got 'lots'$"),
    (dict(seed="x"), r"^seed must be an integer >= 0, got 'x'$"),
])
def test_generate_bad_strings(params, match):
    with pytest.raises(ValueError, match=match):
        S.generate("block", **params)


def test_generate_unknown_model_and_param():
    with pytest.raises(ValueError, match=r"unknown model 'nope'.*augmentation, block, diversity, matched, planted"):
        S.generate("nope")
    with pytest.raises(ValueError, match=r"unknown parameter 'bogus' of model 'block'; allowed: n_classes, images_"):
        S.generate("block", bogus=1)
    with pytest.raises(ValueError, match=r"unknown parameter 'n_class' of model 'block' \(did you mean 'n_classes'"):
        S.generate("block", n_class=3)


# ---------------------------------------------------------------------------------------------------------------
# parameter validation: one-line messages naming parameter, value and range

BAD = [
    (S.block_model, dict(n_classes=1), r"^n_classes must be an integer >= 2, got 1$"),
    (S.block_model, dict(n_classes=2.0), r"n_classes must be an integer"),
    (S.block_model, dict(n_classes=True), r"n_classes must be an integer"),
    (S.block_model, dict(images_per_class=0), r"images_per_class must be an integer >= 1, got 0"),
    (S.block_model, dict(texts_per_class=-3), r"texts_per_class must be an integer >= 1, got -3"),
    (S.block_model, dict(within=0.0), r"within must be a number > 0, got 0"),
    (S.block_model, dict(within=float("nan")), r"within must be a number > 0, got nan"),
    (S.block_model, dict(across=-0.1), r"across must be a number >= 0, got -0.1"),
    (S.block_model, dict(across=float("inf")), r"across must be a number >= 0, got inf"),
    (S.block_model, dict(across="0.1"), r"across must be a number >= 0, got '0.1'"),
    (S.block_model, dict(seed=-1), r"seed must be an integer >= 0, got -1"),
    (S.block_model_closed_form, dict(n_classes=1), r"n_classes must be an integer >= 2"),
    (S.diversity_model, dict(diversity=1.5), r"diversity must be a number in \[0, 1\], got 1.5"),
    (S.diversity_model, dict(noise=-1), r"noise must be a number >= 0, got -1"),
    (S.diversity_model, dict(styles_per_class=0), r"styles_per_class must be an integer >= 1, got 0"),
    (S.diversity_model, dict(images_per_style=0), r"images_per_style must be an integer >= 1"),
    (S.diversity_model, dict(texts_per_style=0), r"texts_per_style must be an integer >= 1"),
    (S.diversity_model, dict(n_classes=1), r"n_classes must be an integer >= 2"),
    (S.diversity_model_closed_form, dict(diversity=-0.5), r"diversity must be a number in \[0, 1\]"),
    (S.augmentation_model, dict(strength=1.0), r"strength must be a number in \[0, 1\), got 1"),
    (S.augmentation_model, dict(strength=-0.1), r"strength must be a number in \[0, 1\)"),
    (S.augmentation_model, dict(n_classes=0), r"n_classes must be an integer >= 1, got 0"),
    (S.augmentation_model, dict(images_per_class=0), r"images_per_class must be an integer >= 1"),
    (S.augmentation_model, dict(views_per_image=0), r"views_per_image must be an integer >= 1"),
    (S.augmentation_model, dict(seed=1.5), r"seed must be an integer >= 0, got 1.5"),
    (S.matched_model, dict(arm="both"), r"arm must be one of captions, augmentations, got 'both'"),
    (S.matched_model, dict(n_classes=1), r"n_classes must be an integer >= 2, got 1"),
    (S.matched_model, dict(min_degree=0), r"min_degree must be an integer >= 1, got 0"),
    (S.matched_model, dict(diversity=1.5), r"diversity must be a number in \[0, 1\], got 1.5"),
    (S.matched_model, dict(noise=-0.1), r"noise must be a number in \[0, 1\], got -0.1"),
    (S.matched_model, dict(degree_exponent=1.0), r"degree_exponent must be a number > 1 \(or inf\), got 1"),
    (S.planted_model, dict(n_images=0), r"n_images must be an integer >= 1, got 0"),
    (S.planted_model, dict(n_texts=0), r"n_texts must be an integer >= 1, got 0"),
    (S.planted_model, dict(n_images=10, n_texts=20, n_edges=19, n_classes=2),
     r"n_edges must be an integer >= n_images \+ n_texts = 30, got 19"),
    (S.planted_model, dict(n_images=10, n_texts=20, n_edges=100, n_classes=11),
     r"n_classes must be an integer in \[1, min\(n_images, n_texts\) = 10\], got 11"),
    (S.planted_model, dict(noise=1.01), r"noise must be a number in \[0, 1\], got 1.01"),
    (S.planted_model, dict(degree_exponent=1.0), r"degree_exponent must be a number > 1 \(or inf\), got 1"),
    (S.planted_model, dict(degree_exponent=float("-inf")), r"degree_exponent must be a number > 1"),
    (S.planted_model, dict(label_noise=2), r"label_noise must be a number in \[0, 1\], got 2"),
    (S.planted_model, dict(n_classes=1, label_noise=0.1), r"label_noise must be 0 when n_classes == 1"),
]


@pytest.mark.parametrize("fn,kwargs,match", BAD, ids=[f"{f.__name__}-{m.lstrip('^').split()[0]}" for f, _, m in BAD])
def test_validation_errors(fn, kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        fn(**kwargs)
    assert "\n" not in str(info.value)


def test_keyword_only():
    for model in S.MODELS.values():
        with pytest.raises(TypeError):
            model.fn(3)


def test_augmentation_confusion_links_other_classes_only_with_its_weight():
    e = S.augmentation_model(n_classes=3, images_per_class=5, views_per_image=2, strength=0.3, confusion=0.1, seed=2)
    across = e.image_labels[e.rows] != e.text_labels[e.cols]
    np.testing.assert_allclose(e.weights[across], 0.1)
    assert across.sum() == 3 * 5 * 2  # one other-class edge per view
    assert dense_reference(e)["alpha"] > 0
    with pytest.raises(ValueError, match="confusion"):
        S.augmentation_model(n_classes=1, confusion=0.1)


# ---------------------------------------------------------------------------------------------------------------
# matched model: captions and augmentations over the same views


def _home(e: Edges) -> np.ndarray:
    """The one column of every view (valid where every edge of a view goes home: diversity = noise = 0)."""
    home = np.full(e.n_images, -1)
    home[e.rows] = e.cols
    assert np.all(home[e.rows] == e.cols)
    return home


@SETTINGS
@given(r=st.integers(2, 4), n=st.integers(1, 5), v=st.integers(1, 4), d_min=st.integers(1, 4),
       delta=st.floats(0, 1), eps=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_matched_arms_share_views_degrees_and_noise(r, n, v, d_min, delta, eps, seed):
    kw = dict(n_classes=r, sources_per_class=n, views_per_source=v, min_degree=d_min, diversity=delta, noise=eps,
              seed=seed)
    cap, aug = S.matched_model(arm="captions", **kw), S.matched_model(arm="augmentations", **kw)
    for e, name in ((cap, "matched"), (aug, "matched")):
        assert_well_formed(e, name)
        np.testing.assert_array_equal(e.image_labels, np.arange(r * n * v) // (n * v))
    # the same views with the same degrees (p_V equal), and the same edges leave their class (common noise)
    np.testing.assert_array_equal(cap.rows, aug.rows)
    assert np.bincount(cap.rows).min() >= min(d_min, r * n)
    across = [e.image_labels[e.rows] != e.text_labels[e.cols] for e in (cap, aug)]
    np.testing.assert_array_equal(across[0], across[1])


def test_matched_homes_group_by_source_or_across_sources():
    kw = dict(n_classes=3, sources_per_class=6, views_per_source=4, min_degree=2, diversity=0.0, noise=0.0,
              seed=3)
    aug, cap = _home(S.matched_model(arm="augmentations", **kw)), _home(S.matched_model(arm="captions", **kw))
    source = np.arange(3 * 6 * 4) // 4
    np.testing.assert_array_equal(aug, source)  # views of one source share a column
    for home in (aug, cap):  # both: every column holds v = 4 views of one class
        assert np.all(np.bincount(home) == 4)
        assert np.all(home // 6 == source // 6)
    assert any(len(set(source[cap == j])) > 1 for j in range(18))  # a caption links views of several sources


def test_matched_noise_and_diversity_act_as_stated():
    kw = dict(n_classes=4, sources_per_class=8, views_per_source=4, min_degree=3, seed=1)
    e = S.matched_model(noise=1.0, **kw)
    assert np.all(e.image_labels[e.rows] != e.text_labels[e.cols]) and dense_reference(e)["alpha"] == pytest.approx(1)
    e = S.matched_model(arm="augmentations", diversity=1.0, noise=0.0, **kw)
    ref = dense_reference(e)
    assert ref["alpha"] == 0 and ref["phi"] == pytest.approx(0, abs=1e-15) and ref["n_components"] == 4
    # noise fraction about eps: 2000 edges, 5 standard deviations
    e = S.matched_model(noise=0.2, **kw)
    share = np.mean(e.image_labels[e.rows] != e.text_labels[e.cols])
    assert abs(share - 0.2) < 5 * np.sqrt(0.2 * 0.8 / e.nnz)
    # more diversity connects a class: s_{r+1} falls
    low, high = (dense_reference(S.matched_model(diversity=d, noise=0.0, **kw))["s"][4] for d in (0.05, 0.9))
    assert high < low - 0.2
