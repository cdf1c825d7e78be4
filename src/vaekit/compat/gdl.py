"""D. Foster's "Generative Deep Learning" (1st edition) ``VariationalAutoencoder``, over vaekit's.

The book's code (``models/VAE.py`` and its ``03_03``-``03_06`` notebooks) no longer runs on
Keras 3 (``Adam(lr=...)``, ``fit_generator``, weight files not named ``.weights.h5``, ``K.``
functions). Its readers change the import line and keep the rest::

    from vaekit.compat.gdl import VariationalAutoencoder, load_mnist, load_model

and the face notebooks read their folder with vaekit's folder source in place of their
``ImageDataGenerator`` (``data_flow = datasets.open_images(DATA_FOLDER, INPUT_DIM)``).

What the book's names are here:

- the constructor's arguments, stored under their names (``vae.z_dim``, ``vae.input_dim``...);
  LeakyReLU with tf.keras 2's slope 0.3, dropout 0.25 (``use_dropout``), batch norm;
- ``encoder`` maps images to the sampled ``z`` alone (the analysis notebooks scatter
  ``vae.encoder.predict(x)``), ``encoder_mu_log_var`` to ``(mu, log_var)``, ``decoder`` maps
  ``z`` to images, ``model`` is the vaekit model that trains them (``.vae`` is the whole
  :class:`vaekit.VariationalAutoencoder`);
- ``compile(learning_rate, r_loss_factor)``: Adam and the book's loss, ``r_loss_factor`` times
  each image's mean squared error plus the KL summed over the latent dimensions, which is
  vaekit's ``squared_error`` convention (:mod:`vaekit.models.objective`): the gaussian
  likelihood with ``sigma = sqrt(pixels / (2 r_loss_factor))`` less its constant. The loss
  numbers are the book's; ``bce`` logs the reconstruction term, ``kl`` the KL, and ``nelbo``
  the negative ELBO in nats under that gaussian;
- ``save(folder)``: the folder with ``viz/``, ``weights/`` and ``images/``, the constructor's
  arguments in ``params.pkl`` (the book's list, read by :func:`load_model`) and text summaries
  of the models in ``viz/`` (the book drew them with ``plot_model``, which needs Graphviz);
- ``train(x_train, batch_size, epochs, run_folder, print_every_n_batches=100, initial_epoch=0,
  lr_decay=1)`` and ``train_with_generator(data_flow, epochs, steps_per_epoch, run_folder,
  ...)``: as the book, a sample decoded from ``z ~ N(0, I)`` into ``images/`` every
  ``print_every_n_batches`` batches and the weights into ``weights/`` every epoch
  (``weights.weights.h5`` and ``weights-EPOCH-LOSS.weights.h5``: Keras 3 names them so); the
  learning rate times ``lr_decay`` each epoch. The run folder is also a vaekit run folder
  (:func:`vaekit.training.run.train_model`): config.yaml, metrics.csv, checkpoints,
  model.keras, plots and report.html, which ``vaekit report``, ``evaluate``, ``plot`` and
  ``train --resume`` read;
- ``load_weights(path)``: the book's ``weights/weights.h5`` finds ``weights/weights.weights.h5``.

Training data: the images of :func:`load_mnist` (all 60,000) are recorded as the ``mnist`` data
set; an image set of :func:`vaekit.datasets.open_images` as its folder; other arrays are written
into the run folder as ``data.npz`` (its test images are the first 1,000 training images: the
book trains without a test set).

Example (the digits notebook's cells, on a few images):
    >>> import tempfile
    >>> (x_train, y_train), (x_test, y_test) = load_mnist()
    >>> vae = VariationalAutoencoder(
    ...     input_dim=(28, 28, 1), encoder_conv_filters=[8, 8], encoder_conv_kernel_size=[3, 3],
    ...     encoder_conv_strides=[1, 2], decoder_conv_t_filters=[8, 1],
    ...     decoder_conv_t_kernel_size=[3, 3], decoder_conv_t_strides=[2, 1], z_dim=2)
    >>> RUN_FOLDER = tempfile.mkdtemp() + "/0002_digits"
    >>> vae.save(RUN_FOLDER)
    >>> vae.compile(0.0005, 1000)
    >>> vae.train(x_train[:64], batch_size=32, epochs=1, run_folder=RUN_FOLDER,
    ...           print_every_n_batches=100, verbose=0)
    >>> vae.encoder.predict(x_test[:3], verbose=0).shape
    (3, 2)
    >>> load_model(VariationalAutoencoder, RUN_FOLDER).z_dim
    2
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from vaekit import datasets
from vaekit.config import Config
from vaekit.errors import ConfigError, DataError, ModelFileError
from vaekit.io import atomic_path, atomic_write_text
from vaekit.models.objective import Objective, sigma_of_r_loss_factor
from vaekit.models.vae import VariationalAutoencoder as VAE
from vaekit.training import run as runs

# The book's params.pkl: the constructor's arguments in this order.
PARAMS = (
    "input_dim",
    "encoder_conv_filters",
    "encoder_conv_kernel_size",
    "encoder_conv_strides",
    "decoder_conv_t_filters",
    "decoder_conv_t_kernel_size",
    "decoder_conv_t_strides",
    "z_dim",
    "use_batch_norm",
    "use_dropout",
)
DROPOUT_RATE = 0.25  # the book's Dropout(rate=0.25)
TEST_IMAGES = 1000  # the test images of a data.npz the run writes: its first training images


class VariationalAutoencoder:
    """The book's ``VariationalAutoencoder`` (see the module docstring).

    Args:
        input_dim, encoder_conv_filters, encoder_conv_kernel_size, encoder_conv_strides,
        decoder_conv_t_filters, decoder_conv_t_kernel_size, decoder_conv_t_strides, z_dim,
        use_batch_norm, use_dropout: the book's arguments.
        **options: further arguments of :class:`vaekit.VariationalAutoencoder` (``seed``,
            ``kl_strategy``...).

    Raises:
        ConfigError: an invalid argument, named as the book names it (one line).
    """

    def __init__(
        self,
        input_dim,
        encoder_conv_filters,
        encoder_conv_kernel_size,
        encoder_conv_strides,
        decoder_conv_t_filters,
        decoder_conv_t_kernel_size,
        decoder_conv_t_strides,
        z_dim,
        use_batch_norm=False,
        use_dropout=False,
        **options,
    ):
        self.name = "variational_autoencoder"
        arguments = dict(locals())
        for key in PARAMS:
            setattr(self, key, arguments[key])
        self.n_layers_encoder = len(encoder_conv_filters)
        self.n_layers_decoder = len(decoder_conv_t_filters)
        self.learning_rate = self.r_loss_factor = None
        self.options = options
        pixels = math.prod(input_dim)
        sigma = sigma_of_r_loss_factor(1000.0, pixels)  # until compile() says otherwise
        try:
            self.vae = VAE(
                **{key: arguments[key] for key in PARAMS},
                activation="leaky_relu",
                dropout_rate=DROPOUT_RATE,
                likelihood="gaussian",
                gaussian_sigma=sigma,
                objective=Objective("squared_error", "gaussian", sigma, kl_weight=1.0),
                **{"kl_strategy": "train_step", **options},
            )
        except ConfigError as error:
            raise ConfigError(str(error).replace("model.", "")) from None
        self._build()

    def _build(self) -> None:
        """The book's models: ``encoder`` (x -> z), ``encoder_mu_log_var``, ``decoder``,
        ``model``, and the symbolic ``mu`` and ``log_var``."""
        encoder = self.vae.encoder
        self.mu, self.log_var = encoder.outputs[0], encoder.outputs[1]
        self.encoder_mu_log_var = keras.Model(encoder.inputs, encoder.outputs[:2])
        self.encoder = keras.Model(encoder.inputs, encoder.outputs[2], name="encoder")
        self.decoder = self.vae.decoder
        self.model = self.vae.model

    # Training.
    def compile(self, learning_rate, r_loss_factor) -> None:
        """Adam at ``learning_rate`` and the book's loss: ``r_loss_factor`` x each image's mean
        squared error + the KL summed over the latent dimensions."""
        if not (isinstance(r_loss_factor, int | float) and r_loss_factor > 0):
            raise ConfigError(f"r_loss_factor: got {r_loss_factor!r}, expected a number > 0")
        self.learning_rate, self.r_loss_factor = learning_rate, r_loss_factor
        sigma = sigma_of_r_loss_factor(r_loss_factor, math.prod(self.input_dim))
        self.vae.config.gaussian_sigma = sigma
        self.vae.objective = Objective("squared_error", "gaussian", sigma, kl_weight=1.0)
        self.vae.build_model()  # the same layers and weights, wired with the new loss
        self.model = self.vae.model
        self.vae.compile(learning_rate=learning_rate)

    def train(
        self,
        x_train,
        batch_size,
        epochs,
        run_folder,
        print_every_n_batches=100,
        initial_epoch=0,
        lr_decay=1,
        verbose="auto",
    ) -> None:
        """Train on the images ``x_train`` into ``run_folder`` (see the module docstring)."""
        self._train(x_train, batch_size, epochs, run_folder, print_every_n_batches,
                    initial_epoch, lr_decay, verbose)  # fmt: skip

    def train_with_generator(
        self,
        data_flow,
        epochs,
        steps_per_epoch,
        run_folder,
        print_every_n_batches=100,
        initial_epoch=0,
        lr_decay=1,
        batch_size=None,
        verbose="auto",
    ) -> None:
        """Train on an image folder: ``data_flow`` is :func:`vaekit.datasets.open_images`'s
        (for the book's ``ImageDataGenerator``), read a batch at a time. The batch is
        ``batch_size``, or the images over ``steps_per_epoch`` (the book passes
        ``NUM_IMAGES / BATCH_SIZE``); every epoch sees every training image."""
        if not isinstance(data_flow, datasets.ImageData):
            raise DataError(
                "data_flow: expected the image folder as vaekit.datasets.open_images(FOLDER, "
                f"INPUT_DIM) gives it, got {type(data_flow).__name__}"
            )
        batch_size = batch_size or max(1, round(len(data_flow.train) / steps_per_epoch))
        self._train(data_flow, batch_size, epochs, run_folder, print_every_n_batches,
                    initial_epoch, lr_decay, verbose)  # fmt: skip

    def _train(self, data, batch_size, epochs, folder, every, initial_epoch, lr_decay, verbose):
        if self.learning_rate is None:
            raise RuntimeError("compile(learning_rate, r_loss_factor) before training")
        folder = Path(folder)
        if initial_epoch == 0:  # before anything is written into it
            runs.refuse_existing(folder)
        config = self.run_config(data, folder, batch_size, epochs, lr_decay)
        callbacks = [
            BookSamples(self, folder / "images", every, initial_epoch),
            BookWeights(self, folder / "weights"),
        ]
        runs.train_model(self.vae, config, folder, initial_epoch, callbacks, verbose)

    def run_config(self, data, folder: Path, batch_size, epochs, lr_decay) -> Config:
        """The vaekit config of a run of this model on ``data`` (see the module docstring)."""
        values = Config().to_dict()
        values["model"].update({key: getattr(self.vae.config, key) for key in values["model"]})
        values["model"]["input_dim"] = list(self.vae.config.input_dim)
        values["data"].update(dataset=_dataset(data, folder), validation="none")
        values["train"].update(
            epochs=int(epochs),
            batch_size=int(batch_size),
            learning_rate=float(self.learning_rate),
            lr_decay=float(lr_decay),
            loss_convention="squared_error",
        )
        if isinstance(data, datasets.ImageData) and data.manifest is not None:
            values["data"]["labels"] = "auto" if data.classes else "none"
        return Config.from_dict(values)

    # Saving and loading, as the book.
    def save(self, folder) -> None:
        """Make ``folder`` with ``viz/``, ``weights/`` and ``images/``; write ``params.pkl`` and
        the models' summaries."""
        folder = Path(folder)
        for part in ("viz", "weights", "images"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        params = [list(v) if isinstance(v, tuple) and k != "input_dim" else v
                  for k, v in ((key, getattr(self, key)) for key in PARAMS)]  # fmt: skip
        with atomic_path(folder / "params.pkl") as temporary:
            temporary.write_bytes(pickle.dumps(params))
        self.plot_model(folder)

    def plot_model(self, run_folder) -> None:
        """The models' summaries as text: ``viz/model.txt``, ``encoder.txt``, ``decoder.txt``."""
        for name, part in (("model", self.model), ("encoder", self.encoder),
                           ("decoder", self.decoder)):  # fmt: skip
            atomic_write_text(Path(run_folder) / "viz" / f"{name}.txt", _summary(part))

    def load_weights(self, filepath) -> None:
        """Load weights that :meth:`train` saved; the book's ``weights/weights.h5`` is read from
        ``weights/weights.weights.h5``."""
        path = weights_file(filepath)
        try:
            self.model.load_weights(path)
        except (OSError, ValueError) as error:
            raise ModelFileError(f"{path}: cannot load these weights ({error})") from None


def _summary(model) -> str:
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    return "\n".join(lines) + "\n"


def weights_file(filepath) -> Path:
    """The Keras 3 name of a weights file: ``x.h5`` becomes ``x.weights.h5``."""
    path = Path(filepath)
    if path.name.endswith(".h5") and not path.name.endswith(".weights.h5"):
        renamed = path.with_name(path.name[: -len(".h5")] + ".weights.h5")
        if renamed.exists() or not path.exists():
            return renamed
    if not path.exists():
        raise ModelFileError(f"{path}: no such weights file (train() writes weights/)")
    return path


class BookSamples(keras.callbacks.Callback):
    """Every ``every`` batches, one image decoded from ``z ~ N(0, I)`` into ``images/`` as
    ``img_EPOCH_BATCH.jpg`` (the book's ``CustomCallback``; epochs counted from 1)."""

    def __init__(self, book, folder, every: int, initial_epoch: int = 0):
        super().__init__()
        self.book, self.folder, self.every = book, Path(folder), int(every)
        self.epoch = initial_epoch
        self.rng = np.random.default_rng(initial_epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.every < 1 or batch % self.every:
            return
        z = self.rng.standard_normal((1, self.book.z_dim)).astype("float32")
        image = np.clip(self.book.vae.decode(z)[0], 0.0, 1.0)
        pixels = np.round(image * 255).astype(np.uint8)
        picture = Image.fromarray(255 - pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        self.folder.mkdir(parents=True, exist_ok=True)  # gray_r, as the book saves grey ones
        picture.save(self.folder / f"img_{self.epoch:03d}_{batch}.jpg")


class BookWeights(keras.callbacks.Callback):
    """The weights after every epoch: ``weights.weights.h5`` and
    ``weights-EPOCH-LOSS.weights.h5`` (the book's two ``ModelCheckpoint``s)."""

    def __init__(self, book, folder):
        super().__init__()
        self.book, self.folder = book, Path(folder)

    def on_epoch_end(self, epoch, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        loss = (logs or {}).get("loss", float("nan"))
        for name in (f"weights-{epoch + 1:03d}-{loss:.2f}.weights.h5", "weights.weights.h5"):
            with atomic_path(self.folder / name, suffix=".weights.h5") as temporary:
                self.book.vae.model.save_weights(temporary)  # Keras wants the suffix


def _dataset(data, folder: Path) -> str:
    """``data.dataset`` for the training data (see the module docstring)."""
    if isinstance(data, datasets.ImageData):  # a named set, or a folder (as an absolute path)
        return data.name if data.name in datasets.SOURCES else str(Path(data.name).resolve())
    x = np.asarray(data)
    if _is_mnist(x):
        return "mnist"
    images = datasets.validate_images(x, "x_train")
    path = folder.resolve() / "data.npz"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, x_train=images, x_test=images[:TEST_IMAGES])
    return str(path)


def _is_mnist(x: np.ndarray) -> bool:
    """Whether ``x`` holds the 60,000 MNIST training images as :func:`load_mnist` gives them."""
    if x.shape != (60000, 28, 28, 1) or x.dtype != np.float32:
        return False
    (train, _), _ = datasets.load("mnist")
    return bool(np.array_equal(x, train))


def load_mnist():
    """MNIST as the book's ``load_mnist``: ``((x_train, y_train), (x_test, y_test))``, images
    float32 in [0, 1] of shape (N, 28, 28, 1), from the copy vaekit ships (nothing is
    downloaded)."""
    (x_train, y_train), (x_test, y_test) = datasets.load("mnist")
    return (np.array(x_train), y_train), (np.array(x_test), y_test)


class _Params(pickle.Unpickler):
    """Reads params.pkl's list of numbers, tuples and lists, and nothing that runs code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"params.pkl holds a {module}.{name}, not the book's list")


def load_model(model_class, folder):
    """The book's ``load_model(VariationalAutoencoder, RUN_FOLDER)``: the model of
    ``params.pkl`` with the weights of ``weights/weights.h5`` (``.weights.h5``)."""
    path = Path(folder) / "params.pkl"
    try:
        with open(path, "rb") as handle:
            params = _Params(handle).load()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not found (save(folder) writes it)") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise ModelFileError(f"{path}: unreadable ({error})") from None
    model = model_class(*params)
    model.load_weights(path.parent / "weights" / "weights.h5")
    return model
