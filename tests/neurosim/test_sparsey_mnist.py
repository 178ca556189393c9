"""Sparsey's MNIST protocol: skeletonisation, inputs, split, protocol and the sparsey-mnist
experiment (on the real MNIST subset when $NEUROSIM_REALDATA holds it)."""

import os
from pathlib import Path

import numpy as np
import pytest

from neurosim.sparsey import mnist_protocol, skeletonize, sparsey_mnist_inputs, split_per_class


def _realdata_mnist():
    root = Path(__file__).resolve().parents[2]
    default = root.parent / "shared" / "realdata"
    folder = Path(os.environ.get("NEUROSIM_REALDATA", default))
    path = folder / "mnist5k" / "mnist_5k.csv.gz"
    if not path.is_file():
        pytest.skip(f"real data not found at {path} (set NEUROSIM_REALDATA)")
    return path


def _digits_28():
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.zeros((len(d.target), 28, 28))
    images[:, 6:22, 6:22] = np.kron(d.images, np.ones((2, 2)))
    return images, d.target


def _zhang_suen_loops(img):
    """Textbook Zhang & Suen (1984), pixel by pixel: the independent reference."""
    img = np.pad(np.asarray(img, bool), 1).astype(int)
    while True:
        changed = False
        for step in (0, 1):
            marked = []
            for r in range(1, img.shape[0] - 1):
                for c in range(1, img.shape[1] - 1):
                    if not img[r, c]:
                        continue
                    p = [img[r - 1, c], img[r - 1, c + 1], img[r, c + 1], img[r + 1, c + 1],
                         img[r + 1, c], img[r + 1, c - 1], img[r, c - 1], img[r - 1, c - 1]]
                    b = sum(p)
                    a = sum(p[k] == 0 and p[(k + 1) % 8] == 1 for k in range(8))
                    p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
                    if step == 0:
                        ok = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
                    else:
                        ok = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
                    if 2 <= b <= 6 and a == 1 and ok:
                        marked.append((r, c))
            for r, c in marked:
                img[r, c] = 0
            changed |= bool(marked)
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def test_skeletonize_against_textbook_loops():
    images, _ = _digits_28()
    rng = np.random.default_rng(0)
    binary = [images[k, 4:24, 4:24] > 8 for k in range(12)]
    binary += [rng.random((12, 10)) < 0.6 for _ in range(12)]  # ragged random blobs
    for img in binary:
        np.testing.assert_array_equal(skeletonize(img), _zhang_suen_loops(img))
    stack = np.stack(binary[:12])
    np.testing.assert_array_equal(skeletonize(stack), [_zhang_suen_loops(b) for b in stack])


def test_skeletonize_hand_checked():
    # a 3-pixel-thick bar thins to a one-pixel line on its middle row (Zhang-Suen shortens it
    # by two pixels at one end and one at the other)
    bar = np.zeros((7, 9), bool)
    bar[2:5, 1:8] = True
    sk = skeletonize(bar)
    assert sk.sum() == 4 and np.all(sk[3, 2:6]) and not sk[[2, 4]].any()
    # a filled 5 x 5 square thins to its centre pixel
    sq = np.zeros((7, 7), bool)
    sq[1:6, 1:6] = True
    np.testing.assert_array_equal(np.argwhere(skeletonize(sq)), [[3, 3]])
    # thin lines, single pixels and empty images are left alone; a batch is thinned per image
    line = np.zeros((5, 5), bool)
    line[2, :] = True
    dot = np.zeros((5, 5), bool)
    dot[1, 1] = True
    batch = skeletonize(np.stack([line, dot, np.zeros((5, 5), bool)]).astype(np.uint8))
    np.testing.assert_array_equal(batch[0], line)
    np.testing.assert_array_equal(batch[1], dot)
    assert batch.dtype == bool and not batch[2].any()
    # a ring keeps its hole (thinning preserves connectivity)
    ring = np.zeros((9, 9), bool)
    ring[1:8, 1:8] = True
    ring[3:6, 3:6] = False
    sk = skeletonize(ring)
    assert not sk[4, 4] and sk.sum() >= 8 and sk.sum() < ring.sum()


def test_skeletonize_errors():
    with pytest.raises(ValueError, match=r"binary \(0/1 or bool\), got the value 2"):
        skeletonize(np.full((3, 3), 2))
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        skeletonize(np.zeros(3))
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        skeletonize(np.zeros((3, 3)), max_iter=0)


def test_inputs_and_split():
    images, y = _digits_28()
    X = sparsey_mnist_inputs(images[:200])
    assert X.shape == (200, 24, 16) and X.dtype == np.uint8 and set(np.unique(X)) <= {0, 1}
    active = X.reshape(200, -1).sum(1)
    assert 15 < active.mean() < 45 and active.min() > 0  # sparse: 4-12 % of 384 pixels
    thick = sparsey_mnist_inputs(images[:200], skeleton=False)
    assert np.all(thick.reshape(200, -1).sum(1) >= active)
    assert np.all(X <= thick)  # the skeleton lies inside the binarised digit
    with pytest.raises(ValueError, match=r"\(n_images, 28, 28\), got \(3, 8, 8\)"):
        sparsey_mnist_inputs(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="threshold must be in"):
        sparsey_mnist_inputs(images[:2], threshold=1.5)
    train, test = split_per_class(y, 50, random_state=0)
    assert len(train) == 500 and len(test) == len(y) - 500
    np.testing.assert_array_equal(np.bincount(y[train]), np.full(10, 50))
    assert not set(train) & set(test)
    again, _ = split_per_class(y, 50, random_state=0)
    np.testing.assert_array_equal(train, again)
    with pytest.raises(ValueError, match="fewer than n_per_class=500"):
        split_per_class(y, 500)


def test_protocol_on_digits():
    images, y = _digits_28()
    images, y = images[:1000], y[:1000]
    r = mnist_protocol(images, y, n_per_class=30, model=dict(Q=20, K=20), random_state=0)
    assert (r["n_train"], r["n_test"]) == (300, 700)
    assert r["memory"].codes_.shape == (300, 20) and r["learn_time_s"] > 0
    np.testing.assert_array_equal(np.bincount(y[r["train"]]), np.full(10, 30))
    # numbers measured once (seed 0): the binary skeletons lose much of what 1-NN uses, and
    # Sparsey's codes lose more
    assert r["accuracy_1nn"] == pytest.approx(0.963, abs=0.005)
    assert r["accuracy_1nn_inputs"] == pytest.approx(0.741, abs=0.005)
    assert r["accuracy"] == pytest.approx(0.324, abs=0.03)
    assert r["accuracy_linear"] == pytest.approx(0.446, abs=0.03)
    assert r["mean_active_inputs"] == pytest.approx(23.53, abs=0.01)
    with pytest.raises(ValueError, match=r"inputs must have shape \(1000, height, width\)"):
        mnist_protocol(images, y, inputs=np.zeros((3, 24, 16)))


def test_experiment_falls_back_to_digits(monkeypatch):
    import neurosim.datasets

    from neurosim.experiments import get_experiment

    def absent(*args, **kwargs):
        raise FileNotFoundError("mnist_5k.csv.gz was not found")

    monkeypatch.setattr(neurosim.datasets, "load_mnist_subset", absent)
    exp = get_experiment("sparsey-mnist")
    res = exp.run(quick=True, config={"variants": ["cosine"], "n_per_class": 30, "Q": 20,
                                      "K": 20})
    ds = res.dataset
    assert ds.attrs["data_fallback"] == 1 and "FALLBACK" in ds.attrs["data"]
    assert "not MNIST numbers" in res.report and "digits" in res.report
    assert ds.attrs["n_train"] == 300 and ds.attrs["n_per_class"] == 30
    assert set(res.metrics) >= {"accuracy", "accuracy_1nn", "learn_time_s", "paper_accuracy"}
    assert res.metrics["paper_accuracy"] == 0.91 and res.metrics["paper_learn_time_s"] == 220
    assert 0.1 < res.metrics["accuracy"] < res.metrics["accuracy_1nn"]
    assert int(ds["confusion"].sum()) == ds.attrs["n_test"]
    assert set(res.figures) == {"accuracy", "inputs"}
    with pytest.raises(ValueError, match="unknown variants"):
        exp.run(quick=True, config={"variants": ["dense"]})
    # a path given but absent is an error, not a silent fallback
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        exp.run(quick=True, data="/nonexistent/mnist5k")


@pytest.mark.realdata
def test_experiment_on_mnist_subset():
    """The paper's protocol on the real subset (seed 0): NOT reproduced, numbers as measured."""
    from neurosim.experiments import get_experiment

    path = _realdata_mnist()
    res = get_experiment("sparsey-mnist").run(quick=True, data=path.parent)
    m, ds = res.metrics, res.dataset
    assert ds.attrs["data_fallback"] == 0 and ds.attrs["n_train"] == 2000
    assert ds.attrs["n_test"] == 3000 and "5,000-image subset" in ds.attrs["data"]
    assert m["accuracy_1nn"] == pytest.approx(0.918, abs=0.005)  # raw pixels: the paper's 91 %
    assert m["accuracy"] == pytest.approx(0.309, abs=0.02)  # Sparsey's normalisation
    assert m["accuracy_cosine"] == pytest.approx(0.764, abs=0.02)  # the documented variant
    assert m["accuracy_cosine"] > m["accuracy_1nn_inputs"] > m["accuracy"]
    assert m["accuracy_linear"] > m["accuracy"]
    assert m["accuracy_1nn_inputs"] == pytest.approx(0.708, abs=0.01)
    assert 30 < m["mean_active_inputs"] < 40
    assert "Not reproduced" in res.report
