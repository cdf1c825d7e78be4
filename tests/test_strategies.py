"""The four KL wirings compute the same loss and the same gradients, and each trains.

Backend-neutral: ``make test-backends`` runs this file on JAX and PyTorch too, one process each.
"""

import keras
import numpy as np
import pytest
from conftest import STRATEGIES

from vaekit import VariationalAutoencoder
from vaekit.models.objective import Objective, kl_term, reconstruction_per_image

VARIANTS = {
    "reference": {},
    "batch_norm_dropout": {"use_batch_norm": True, "use_dropout": True, "activation": "relu"},
    "selu": {"activation": "selu", "use_dropout": True},
}


# The objectives every wiring must train identically: (objective, images binarized, kl scale).
OBJECTIVES = {
    "elbo_bernoulli_binary": (Objective("elbo", "bernoulli", kl_weight=1000.0), True, None),
    "elbo_free_bits_schedule": (
        Objective("elbo", "bernoulli", kl_weight=1000.0, kl_schedule="linear", free_bits=3e-4),
        True,
        0.5,
    ),
    "reference_continuous_bernoulli": (
        Objective("reference", "continuous_bernoulli", kl_weight=50.0),
        False,
        None,
    ),
    "elbo_gaussian_learned": (
        Objective("elbo", "gaussian", "learned", kl_weight=1000.0),
        False,
        None,
    ),
    "elbo_gaussian_fixed_beta": (Objective("elbo", "gaussian", 0.2, kl_weight=1000.0), False, None),
    "reference_cyclical": (Objective(kl_weight=50.0, kl_schedule="cyclical"), False, 0.25),
    "beta_tc": (
        Objective("elbo", "bernoulli", kl_weight=6.0, divergence="beta_tc", dataset_size=60000),
        True,
        None,
    ),
    "mmd_rbf_schedule": (
        Objective(
            "elbo",
            kl_weight=0.5,
            kl_schedule="linear",
            divergence="mmd",
            mmd_weight=1000.0,
            mmd_kernel="rbf",
        ),
        True,
        0.5,
    ),  # fmt: skip
    # The VampPrior: the sampled KL against the mixture of the pseudo-inputs' posteriors.
    "vamp_schedule": (
        Objective("elbo", kl_weight=4.0, kl_schedule="linear", prior="vamp"),
        True,
        0.5,
    ),
    "vamp_reference": (Objective(kl_weight=50.0, prior="vamp"), False, None),
}


def carriers(objective) -> list[str]:
    """The wirings that carry an objective: the "layer" one's KL layer has no prior draws and
    cannot encode the VampPrior's pseudo-inputs."""
    layer_cannot = objective.divergence == "mmd" or objective.prior == "vamp"
    return [s for s in STRATEGIES if not (s == "layer" and layer_cannot)]


def model_settings(objective) -> dict:
    """The model settings an objective needs: the VampPrior's lives in the model."""
    return {"prior": "vamp", "pseudo_inputs": 8} if objective.prior == "vamp" else {}


def one_sgd_step(
    strategy, images, reference=None, objective=None, scale=None, labels=None, **overrides
):
    """Build a VAE with fixed seeds, copy ``reference``'s weights, take one SGD(lr=1) step.

    With plain SGD at learning rate 1, ``weights_before - weights_after`` is the gradient. A
    conditional model trains on ``(images, labels)``.
    """
    settings = {"seed": 3, "kl_factor": 50.0, **overrides}  # a large KL weight so it matters
    vae = VariationalAutoencoder(kl_strategy=strategy, objective=objective, **settings)
    if reference is not None:  # trainable weights: the "layer" encoder may hold a kl_scale too
        for part in ("encoder", "decoder"):
            mine, theirs = getattr(vae, part), getattr(reference, part)
            for variable, value in zip(
                mine.trainable_weights, theirs.trainable_weights, strict=True
            ):
                variable.assign(to_numpy(value))  # a copy: JAX gives donated arrays away
    if scale is not None:
        vae.model.kl_scale_variable.assign(scale)
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    before = [to_numpy(w) for w in vae.model.trainable_weights]
    inputs = images if labels is None else (images, labels)
    logs = vae.model.train_on_batch(inputs, vae.model.targets(images), return_dict=True)
    after = [to_numpy(w) for w in vae.model.trainable_weights]
    gradients = [b - a for b, a in zip(before, after, strict=True)]
    return vae, logs, gradients


# float32 rounding of a logged term: a pairwise reduction over the batch's 32 x 784 = 25,088
# pixels rounds about log2(25,088) + 1 = 16 times (u = 2**-24 relative each, the terms all of one
# sign), a few more for the means and the sum, in a different order in each wiring: <= 20 u
# apart each, 40 u for two. bce is loss - kl: its error is that of the loss, not of bce.
FLOAT32_TERM = 40 * 2.0**-24


def assert_same_logs(logs, expected, keys=("loss", "bce", "kl")):
    for key in keys:
        scale = abs(expected["loss"]) if key == "bce" else abs(expected[key])
        assert abs(logs[key] - expected[key]) <= FLOAT32_TERM * scale, (key, logs, expected)


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def zero_gradient_weights(vae):
    """Biases of convolutions followed by BatchNorm: BN removes them, so their gradient is 0."""
    if not vae.config.use_batch_norm:
        return set()
    last = len(vae.config.decoder_conv_t_filters) - 1
    return {
        w.path
        for w in vae.model.trainable_weights
        if w.path.endswith("/bias")
        and w.path.startswith(("encoder_conv_", "decoder_conv_t_"))
        and w.path.split("/")[0] != f"decoder_conv_t_{last}"
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_all_strategies_give_the_same_losses_and_gradients(images, variant):
    keras.utils.set_random_seed(0)
    overrides = VARIANTS[variant]
    reference = VariationalAutoencoder(seed=3, kl_factor=50.0, **overrides)
    results = {s: one_sgd_step(s, images, reference, **overrides) for s in STRATEGIES}
    layer_vae, expected_logs, expected_gradients = results["layer"]
    assert expected_logs["kl"] > 1e-2  # the KL term is really in play
    paths = [w.path for w in layer_vae.model.trainable_weights]
    zero = zero_gradient_weights(layer_vae)
    scale = max(np.abs(g).max() for g in expected_gradients)
    for strategy in STRATEGIES:
        _, logs, gradients = results[strategy]
        assert_same_logs(logs, expected_logs)
        for path, got, want in zip(paths, gradients, expected_gradients, strict=True):
            if path in zero:  # rounding noise on every path, but noise only
                assert np.abs(got).max() < 1e-3 * scale, path
                continue
            np.testing.assert_allclose(
                got,
                want,
                rtol=1e-4,
                atol=1e-6 * scale,
                err_msg=f"{strategy}: gradient of {path} differs",
            )


@pytest.mark.parametrize("name", OBJECTIVES)
def test_every_objective_trains_identically_in_all_wirings(images, name):
    objective, binary, scale = OBJECTIVES[name]
    if binary:
        images = (np.random.default_rng(0).random(images.shape) < images).astype("float32")
    keras.utils.set_random_seed(0)
    settings = model_settings(objective)
    strategies = carriers(objective)
    reference = VariationalAutoencoder(
        seed=3, kl_factor=50.0, kl_strategy=strategies[0], **settings
    )
    results = {
        s: one_sgd_step(s, images, reference, objective, scale, **settings) for s in strategies
    }
    _, expected_logs, expected_gradients = results[strategies[0]]
    assert abs(expected_logs["kl"]) > 1e-2 and np.isfinite(expected_logs["nelbo"])  # in play
    parts = {"kl": (), "beta_tc": ("mi", "tc", "dwkl"), "mmd": ("mmd",)}[objective.divergence]
    scale_of = max(np.abs(g).max() for g in expected_gradients)
    for strategy in strategies:
        vae, logs, gradients = results[strategy]
        assert len(gradients) == len(expected_gradients), strategy
        assert_same_logs(logs, expected_logs, ("loss", "bce", "kl", "nelbo"))
        for part in parts:  # the divergence's parts, each logged alike (float32 rounding)
            assert logs[part] == pytest.approx(expected_logs[part], rel=1e-5, abs=1e-5), part
        for got, want in zip(gradients, expected_gradients, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * scale_of, err_msg=strategy)


def test_logged_loss_is_bce_plus_kl_by_the_reference_formula(images):
    vae = VariationalAutoencoder(seed=5, kl_factor=0.5)
    mu, log_var, z = (to_numpy(t) for t in vae.encoder(images))
    reconstructions = vae.decoder(z)
    logits = vae.model.training_output(z)
    bce = float(to_numpy(keras.ops.mean(keras.losses.binary_crossentropy(images, reconstructions))))
    kl = 0.5 * float(-np.mean(1 + log_var - mu**2 - np.exp(log_var)))
    reference = Objective(kl_weight=0.5)
    got = float(to_numpy(keras.ops.mean(reconstruction_per_image(reference, images, logits))))
    np.testing.assert_allclose(got, bce, rtol=1e-6)
    # 1 + log_var - exp(log_var) cancels to about log_var^2 / 2: the float32 error is absolute,
    # a few u of the terms' size (<= 2) per element on either side, 16 u in all, times the weight
    # and the reference's factor 2 (the KL itself is small, so a relative tolerance would not do).
    kl_error = 0.5 * 2 * 16 * 2.0**-24
    np.testing.assert_allclose(
        float(to_numpy(kl_term(reference, mu, log_var))), kl, rtol=1e-5, atol=kl_error
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("alias", [False, True])
def test_strategy_trains_and_lowers_the_loss(mnist_small, strategy, alias):
    x_train = mnist_small[0][:256]
    name = STRATEGIES.index(strategy) if alias else strategy
    vae = VariationalAutoencoder(kl_strategy=name, seed=1)
    assert vae.config.kl_strategy == strategy
    vae.compile(learning_rate=1e-3)
    history = vae.fit(x_train, batch_size=64, epochs=2, verbose=0, validation_data=x_train[:64])
    logs = history.history
    assert {"loss", "bce", "kl", "val_loss", "val_bce", "val_kl"} <= set(logs)
    assert logs["loss"][-1] < logs["loss"][0]
    np.testing.assert_allclose(logs["loss"], np.add(logs["bce"], logs["kl"]), rtol=1e-5)


def test_train_step_changes_weights_and_evaluate_does_not(images):
    vae = VariationalAutoencoder(kl_strategy="train_step", seed=2)
    vae.compile()
    before = [to_numpy(w) for w in vae.model.weights]
    vae.evaluate(images)
    after = [to_numpy(w) for w in vae.model.weights]
    assert all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    vae.model.train_on_batch(images, images)
    after = [to_numpy(w) for w in vae.model.weights]
    assert not all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))
