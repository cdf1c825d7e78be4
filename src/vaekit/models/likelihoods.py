"""The decoder's likelihoods p(x | z), from the decoder's logits, in numerically stable forms.

Each likelihood maps images ``x`` (float in [0, 1]) and the decoder's pre-sigmoid output
``logits`` (the last transposed convolution) to the log-density of every pixel, in float32:

=========================  ======================================================================
``bernoulli``              ``x * logits - softplus(logits)``: the binary cross-entropy with its sign
                           flipped; a proper likelihood on binary images (on grey levels it is the
                           reference loss, not a density)
``continuous_bernoulli``   Bernoulli plus ``log C(logits)``, the normaliser that makes it a density
                           on [0, 1] (Loaiza-Ganem and Cunningham, NeurIPS 2019)
``gaussian``               ``N(x; sigmoid(logits), sigma^2)`` with a fixed or learned sigma
=========================  ======================================================================

No log of a clipped probability is taken: ``log sigmoid(l) = -softplus(-l)`` exactly.

Example:
    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0]], "float32"); logits = np.zeros((1, 2), "float32")
    >>> np.round(np.asarray(log_prob("bernoulli", x, logits)), 4)  # log(1/2) each
    array([[-0.6931, -0.6931]], dtype=float32)
    >>> round(float(np.asarray(continuous_bernoulli_log_norm(np.float32(0.0)))), 4)  # log 2
    0.6931
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

from vaekit import choices

LOG_2PI = math.log(2.0 * math.pi)
# Below this |logit| the normaliser uses its Taylor series: there eta / tanh(eta / 2) is 0 / 0 at
# eta = 0, and the series' first omitted term (eta^6 / 181440, from log(x coth x)) stays under
# 1e-11 here, far below float32's resolution of log 2.
_TAYLOR_BELOW = 0.1


def bernoulli_log_prob(x, logits):
    """``log p(x)`` of a Bernoulli with ``p = sigmoid(logits)``, per pixel (also for grey x)."""
    x, logits = ops.cast(x, "float32"), ops.cast(logits, "float32")
    return x * logits - ops.softplus(logits)


def continuous_bernoulli_log_norm(logits):
    """``log C``, the log normaliser of the continuous Bernoulli, per pixel.

    With ``lambda = sigmoid(eta)``, ``C = 2 atanh(1 - 2 lambda) / (1 - 2 lambda)``; in the logit
    ``eta`` that is ``eta / tanh(eta / 2)`` (2 at ``eta = 0``). Near 0 it is the series
    ``log 2 + eta^2 / 12 - 7 eta^4 / 1440``; both branches see only inputs that are safe for them,
    so neither value nor gradient is ever nan.
    """
    eta = ops.cast(logits, "float32")
    small = ops.abs(eta) < _TAYLOR_BELOW
    safe = ops.where(small, ops.ones_like(eta), eta)  # the exact branch never sees 0
    exact = ops.log(ops.abs(safe)) - ops.log(ops.abs(ops.tanh(safe / 2.0)))
    near = ops.where(small, eta, ops.zeros_like(eta))
    square = ops.square(near)
    series = math.log(2.0) + square / 12.0 - 7.0 * ops.square(square) / 1440.0
    return ops.where(small, series, exact)


def continuous_bernoulli_log_prob(x, logits):
    """``log p(x)`` of the continuous Bernoulli with ``lambda = sigmoid(logits)``, per pixel."""
    return bernoulli_log_prob(x, logits) + continuous_bernoulli_log_norm(logits)


def gaussian_log_prob(x, logits, log_sigma):
    """``log N(x; sigmoid(logits), exp(log_sigma)^2)`` per pixel (``log_sigma`` broadcasts)."""
    x, logits = ops.cast(x, "float32"), ops.cast(logits, "float32")
    log_sigma = ops.cast(log_sigma, "float32")
    mean = ops.sigmoid(logits)
    return -0.5 * LOG_2PI - log_sigma - 0.5 * ops.square((x - mean) * ops.exp(-log_sigma))


def continuous_bernoulli_mean(probabilities):
    """The mean of the continuous Bernoulli with parameter ``lambda`` (NumPy, any shape).

    ``lambda / (2 lambda - 1) + 1 / (2 atanh(1 - 2 lambda))``, and ``1/2 + (lambda - 1/2) / 3``
    within 1e-3 of 1/2 (the next term is of order 1e-9). Unlike the Bernoulli's, it is not
    ``lambda``: a model of grey levels pushes ``lambda`` towards 0 and 1, and its images are the
    mean (Loaiza-Ganem and Cunningham, 2019, section 4).

    >>> [round(float(m), 4) for m in continuous_bernoulli_mean(np.array([0.5, 0.9, 1e-6]))]
    [0.5, 0.6699, 0.0724]
    """
    lam = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0 - 1e-12)
    near = np.abs(lam - 0.5) < 1e-3
    safe = np.where(near, 0.25, lam)  # the exact branch never sees 1/2
    exact = safe / (2.0 * safe - 1.0) + 1.0 / (2.0 * np.arctanh(1.0 - 2.0 * safe))
    return np.where(near, 0.5 + (lam - 0.5) / 3.0, exact).astype(np.float32)


# The image a decoder output stands for: the likelihood's mean, from sigmoid(logits).
MEANS = choices.registry(
    choices.LIKELIHOODS,
    {
        "bernoulli": lambda probabilities: probabilities,
        "continuous_bernoulli": continuous_bernoulli_mean,
        "gaussian": lambda probabilities: probabilities,
    },
)

LIKELIHOODS = choices.registry(
    choices.LIKELIHOODS,
    {
        "bernoulli": lambda x, logits, log_sigma: bernoulli_log_prob(x, logits),
        "continuous_bernoulli": lambda x, logits, log_sigma: continuous_bernoulli_log_prob(
            x, logits
        ),
        "gaussian": gaussian_log_prob,
    },
)


def log_prob(name: str, x, logits, log_sigma=None):
    """Per-pixel ``log p(x | z)`` of likelihood ``name`` (see :data:`LIKELIHOODS`)."""
    return LIKELIHOODS[name](x, logits, log_sigma)
