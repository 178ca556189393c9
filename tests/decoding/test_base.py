"""The decoder base (DecoderMixin): one config, save/load, random_state and predict for all four."""

import json

import numpy as np
import pytest
import torch
from neurosim.decoding import BraInCoRL, BrainFLORA, DecoderMixin, HiSTN, MindBridge


def _models(random_state):
    return {
        "histn": (HiSTN(random_state=random_state), (np.ones((3, 14, 128), np.float32),)),
        "brainflora": (BrainFLORA.small({"eeg": (4, 16), "fmri": (30,)}, 6,
                                        random_state=random_state),
                       (np.ones((3, 4, 16), np.float32), "eeg")),
        "mindbridge": (MindBridge(["a", "b"], [30, 20], pool_size=16, hidden_dim=8,
                                  adapter_rank=2, n_blocks=1, heads={"image": (4,)},
                                  random_state=random_state),
                       (np.ones((3, 30), np.float32), "a")),
        "braincorl": (BraInCoRL(6, d_model=16, n_layers=1, n_heads=2, ffn_dim=8,
                                random_state=random_state),
                      (np.ones((5, 6), np.float32), np.ones((5, 2), np.float32),
                       np.ones((3, 6), np.float32))),
    }


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_every_decoder_is_seeded_by_random_state_without_touching_the_global_rng():
    before = torch.random.get_rng_state()
    first, again, other = _models(3), _models(3), _models(4)
    assert torch.equal(torch.random.get_rng_state(), before)  # int seeds fork the generator
    for name, (model, _) in first.items():
        assert isinstance(model, DecoderMixin)
        assert _same(model, again[name][0]), name
        assert not _same(model, other[name][0]), name
    # None: torch's global random state, as for a plain nn.Module
    torch.manual_seed(5)
    a = HiSTN()
    torch.manual_seed(5)
    assert _same(a, HiSTN())


def test_histn_and_brainflora_int_seed_is_torch_manual_seed():
    """An int seeds these two as ``torch.manual_seed(int)`` did before they took random_state."""
    torch.manual_seed(7)
    assert _same(HiSTN(label_sigma=None), HiSTN(label_sigma=None, random_state=7))
    torch.manual_seed(7)
    plain = BrainFLORA.small({"eeg": (4, 16)}, 6)
    assert _same(plain, BrainFLORA.small({"eeg": (4, 16)}, 6, random_state=7))


@pytest.mark.parametrize("name", ["histn", "brainflora", "mindbridge", "braincorl"])
def test_config_save_load_predict(tmp_path, name):
    model, args = _models(0)[name]
    config = model.get_config()
    json.dumps(config)  # builtins only
    assert type(model).from_config(config).get_config() == config
    if name == "brainflora":
        model.unify()
    pred = model.predict(*args)
    path = model.save(tmp_path / "m.pt")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path)
    model.save(path, overwrite=True)
    loaded = type(model).load(path)
    assert loaded.get_config() == config and _same(loaded, model)
    again = loaded.predict(*args)
    for a, b in zip(np.atleast_1d(pred) if not isinstance(pred, dict) else pred.values(),
                    np.atleast_1d(again) if not isinstance(again, dict) else again.values()):
        np.testing.assert_array_equal(a, b)
    assert model.training  # predict restores the training mode
    if name == "brainflora":
        assert loaded.unified


def test_load_names_the_shapes_that_do_not_fit(tmp_path):
    model = HiSTN(random_state=0)
    other = HiSTN(n_filters=4, random_state=0)
    torch.save({"class": "HiSTN", "config": model.get_config(), "state_dict": other.state_dict()},
               tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"do not match the HiSTN.*temporal: checkpoint \(4, 64\), "
                                         r"model \(8, 64\)"):
        HiSTN.load(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a HiSTN checkpoint"):
        HiSTN.load(MindBridge(["a"], 5, pool_size=4, hidden_dim=4, adapter_rank=2, n_blocks=0,
                              heads={"x": (2,)}).save(tmp_path / "mb.pt"))
