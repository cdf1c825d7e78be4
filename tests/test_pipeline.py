"""The streamed input pipeline: reproducible order, resumable mid-epoch, same losses as fit."""

import keras
import numpy as np
import pytest
from conftest import needs_bf16

from vaekit import VariationalAutoencoder
from vaekit.datasets.pipeline import epoch_order, iterate, make_dataset, steps_per_epoch


def batches(dataset):
    return [np.array(x) for x, _ in iterate(dataset)]


@pytest.fixture
def numbered():
    # Image i is filled with i / 100, so a batch tells which images it holds.
    return (np.arange(10, dtype="float32") / 100)[:, None, None, None] * np.ones(
        (1, 2, 2, 1), "float32"
    )


def image_ids(batch):
    return [int(round(v * 100)) for v in batch[:, 0, 0, 0]]


def test_each_epoch_is_a_reproducible_permutation(numbered):
    data = make_dataset(numbered, batch_size=4, seed=7, epochs=2)
    ids = [image_ids(b) for b in batches(data)]
    assert [len(i) for i in ids] == [4, 4, 2, 4, 4, 2]
    first, second = sum(ids[:3], []), sum(ids[3:], [])
    assert sorted(first) == sorted(second) == list(range(10))
    assert first != second  # reshuffled each epoch
    assert first == list(epoch_order(10, 7, 0)) and second == list(epoch_order(10, 7, 1))
    assert [image_ids(b) for b in batches(make_dataset(numbered, 4, seed=7, epochs=2))] == ids


def test_resuming_mid_epoch_continues_the_same_stream(numbered):
    full = [image_ids(b) for b in batches(make_dataset(numbered, 4, seed=3, epochs=3))]
    resumed = make_dataset(numbered, 4, seed=3, first_epoch=1, epochs=3, first_step=2)
    if hasattr(resumed, "cardinality"):  # tf.data states its length for Keras
        assert int(resumed.cardinality()) == len(full) - 5
    assert [image_ids(b) for b in batches(resumed)] == full[5:]


def test_no_shuffle_keeps_the_order(numbered):
    ids = [image_ids(b) for b in batches(make_dataset(numbered, 4, shuffle=False, epochs=1))]
    assert ids == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert steps_per_epoch(10, 4) == 3


@pytest.mark.parametrize("strategy", ["layer", "multi_output"])
def test_fast_path_gives_the_losses_of_a_plain_fit(images, strategy):
    """vaekit's streamed fit and Keras's fit on NumPy arrays: same float32 losses, same weights.

    With plain SGD, so that a weight moves by the learning rate times its gradient: Adam would
    turn float32 noise in a gradient near 0 (from the two tracings' different op orders) into a
    step of the learning rate's size.
    """
    x = np.concatenate([images, images[::-1]])  # 64 images: 4 steps of 16
    keras.utils.set_random_seed(0)
    fast = VariationalAutoencoder(kl_strategy=strategy, seed=9)
    plain = VariationalAutoencoder(kl_strategy=strategy, seed=9)
    plain.model.set_weights(fast.model.get_weights())
    fast.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    plain.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    got = fast.fit(x, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    targets = keras.tree.map_structure(np.array, plain.model.targets(x))
    expected = plain.model.fit(
        x, targets, batch_size=16, epochs=2, shuffle=False, verbose=0
    ).history
    for key in ("loss", "bce", "kl"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, err_msg=key)
    for a, b in zip(fast.model.get_weights(), plain.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@needs_bf16
def test_mixed_bfloat16_keeps_the_loss_terms_in_float32(images):
    from vaekit.config import Config
    from vaekit.training.run import compile_vae

    config = Config.from_dict({"train": {"precision": "mixed_bfloat16"}})
    vae = compile_vae(config)
    assert vae.encoder.get_layer("encoder_conv_0").compute_dtype == "bfloat16"
    assert vae.encoder.get_layer("encoder_conv_0").kernel.dtype == "float32"  # master weights
    assert vae.decoder.output.dtype == "float32"  # the sigmoid, so BCE is float32
    assert vae.encoder.get_layer("z").compute_dtype == "bfloat16"
    logs = vae.model.train_on_batch(images, images, return_dict=True)
    assert all(np.isfinite(logs[k]) for k in ("loss", "bce", "kl"))
    float32 = VariationalAutoencoder(seed=0)
    float32.model.set_weights(vae.model.get_weights())
    float32.compile()
    reference = float32.evaluate(images)
    # bf16 has ~3 significant digits: the loss agrees to about 1%.
    assert vae.evaluate(images)["bce"] == pytest.approx(reference["bce"], rel=2e-2)
    assert keras.config.dtype_policy().name == "float32"  # the global policy was restored


def test_a_reset_before_the_first_epoch_does_not_skip_an_epoch(numbered):
    # Keras's PyTorch and JAX trainers reset their epoch iterator (on_epoch_end) once before the
    # first epoch; the stream must still start at its first epoch (tf.data has no such hook).
    data = make_dataset(numbered, 4, seed=7, epochs=2)
    if not hasattr(data, "on_epoch_end"):
        pytest.skip("tf.data: Keras resets nothing")
    data.on_epoch_end()  # no batch handed out: not an epoch
    data[0]  # a batch drawn to build the model, then a reset: still not an epoch
    data.on_epoch_end()
    assert [image_ids(b) for b in batches(data)] == [
        image_ids(b) for b in batches(make_dataset(numbered, 4, seed=7, epochs=2))
    ]
