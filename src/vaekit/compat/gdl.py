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
  of the models in ``viz/`` (the book drew them with ``plot_model``, which needs Graphviz).
  Saving the same model again (the notebooks do each time they run) keeps the run; a folder that
  holds another model's run is refused and left as it was (see :meth:`VariationalAutoencoder.save`);
- ``train(x_train, batch_size, epochs, run_folder, print_every_n_batches=100, initial_epoch=0,
  lr_decay=1)`` and ``train_with_generator(data_flow, epochs, steps_per_epoch, run_folder,
  ...)``: as the book, a sample decoded from ``z ~ N(0, I)`` into ``images/`` every
  ``print_every_n_batches`` batches and the weights into ``weights/`` every epoch
  (``weights.weights.h5`` and ``weights-EPOCH-LOSS.weights.h5``: Keras 3 names them so); the
  learning rate times ``lr_decay`` each epoch. Every argument is checked, and the folder
  against the model, before anything is written: a refused call leaves nothing behind. The run
  folder is also a vaekit run folder
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

import contextlib
import math
import numbers
import pickle
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from vaekit import datasets, report
from vaekit.config import Config
from vaekit.errors import ConfigError, DataError, ModelFileError, VaekitError, one_line
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
# Files of a run that is not this model's when there is no params.pkl beside them.
RUN_FILES = ("config.yaml", "model.keras", "checkpoints", "weights/weights.weights.h5")
# vaekit's names of train()'s arguments, as errors name them -> the book's.
BOOK_NAMES = {f"train.{key}": key for key in ("batch_size", "epochs", "lr_decay", "learning_rate")}


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
        _positive("learning_rate", learning_rate)
        _positive("r_loss_factor", r_loss_factor)
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
        """Train on the images ``x_train`` into ``run_folder`` (see the module docstring);
        ``print_every_n_batches`` 0 draws no samples.

        Raises:
            ConfigError, DataError, ModelFileError: an argument out of range, images that do not
                fit the model, or a folder of another model's run (:meth:`check_folder`), named
                in one line before anything is written.
        """
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
        if batch_size is None:
            _positive("steps_per_epoch", steps_per_epoch)
            batch_size = max(1, round(len(data_flow.train) / steps_per_epoch))
        self._train(data_flow, batch_size, epochs, run_folder, print_every_n_batches,
                    initial_epoch, lr_decay, verbose)  # fmt: skip

    def _train(self, data, batch_size, epochs, folder, every, initial_epoch, lr_decay, verbose):
        if self.learning_rate is None:
            raise RuntimeError("compile(learning_rate, r_loss_factor) before training")
        folder = Path(folder)
        try:  # everything is checked before anything is written
            initial_epoch = _count("initial_epoch", initial_epoch, 0)
            every = _count("print_every_n_batches", every, 0)
            config = self.run_config(data, folder, batch_size, epochs, lr_decay)
            if initial_epoch >= config.train.epochs:
                raise ConfigError(
                    f"initial_epoch: got {initial_epoch}, but epochs is {config.train.epochs}: "
                    "training goes from epoch initial_epoch to epochs; use epochs > initial_epoch"
                )
            images = self._npz_images(data, config)
            self.check_folder(folder)
            if initial_epoch == 0:
                runs.refuse_existing(folder)
        except VaekitError as error:
            raise _book_names(error) from None
        written = [] if images is None else _write_images(images, folder, initial_epoch > 0)
        callbacks = [
            BookSamples(self, folder / "images", every, initial_epoch),
            BookWeights(self, folder / "weights"),
        ]
        try:
            runs.train_model(self.vae, config, folder, initial_epoch, callbacks, verbose,
                             finish=report.finish_run)  # fmt: skip
        except BaseException as error:
            if not (folder / "config.yaml").exists():  # refused before the run began
                _remove(written)
            if isinstance(error, VaekitError):
                raise _book_names(error) from None
            raise

    def _npz_images(self, data, config: Config) -> np.ndarray | None:
        """The images to write as the run's data.npz (None for MNIST and an image set), checked
        against the model and the batch size."""
        if isinstance(data, datasets.ImageData) or config.data.dataset == "mnist":
            return None
        images = datasets.validate_images(np.asarray(data), "x_train")
        shape = tuple(self.vae.config.input_dim)
        if images.shape[1:] != shape:
            raise DataError(
                f"x_train: images of shape {images.shape[1:]}, but input_dim is {shape}; make "
                "them agree"
            )
        if config.train.batch_size > len(images):
            raise ConfigError(
                f"batch_size: got {config.train.batch_size}, larger than the {len(images)} images "
                f"of x_train; use at most {len(images)}"
            )
        return images

    def run_config(self, data, folder: Path, batch_size, epochs, lr_decay) -> Config:
        """The vaekit config of a run of this model on ``data`` (see the module docstring);
        writes nothing.

        Raises:
            ConfigError: ``batch_size``, ``epochs`` or ``lr_decay`` is invalid (vaekit's names).
        """
        values = Config().to_dict()
        values["model"].update({key: getattr(self.vae.config, key) for key in values["model"]})
        values["model"]["input_dim"] = list(self.vae.config.input_dim)
        values["data"].update(dataset=_dataset(data, Path(folder)), validation="none")
        values["train"].update(
            epochs=_plain_number(epochs),
            batch_size=_plain_number(batch_size),
            learning_rate=_plain_number(self.learning_rate),
            lr_decay=_plain_number(lr_decay),
            loss_convention="squared_error",
        )
        if isinstance(data, datasets.ImageData) and data.manifest is not None:
            values["data"]["labels"] = "auto" if data.classes else "none"
        return Config.from_dict(values)

    # Saving and loading, as the book.
    def params(self) -> list:
        """The book's ``params.pkl`` list: the constructor's arguments in :data:`PARAMS` order."""
        return [list(v) if isinstance(v, tuple) and k != "input_dim" else v
                for k, v in ((key, getattr(self, key)) for key in PARAMS)]  # fmt: skip

    def check_folder(self, folder) -> None:
        """Refuse a folder that holds another model's run, before anything is written into it.

        Raises:
            ModelFileError: ``folder`` is a file; its ``params.pkl`` cannot be read, or holds
                another architecture; or it holds a run (``config.yaml``, ``model.keras``,
                checkpoints, the book's weights) and no ``params.pkl``.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ModelFileError(f"{folder}: not a folder (the book's run folder is one)")
        path = folder / "params.pkl"
        if not path.exists():
            found = next((name for name in RUN_FILES if (folder / name).exists()), None)
            if found:
                raise ModelFileError(
                    f"{folder}: holds a run ({found}) without a params.pkl, so not this model's; "
                    "use a new folder"
                )
            return
        try:
            saved = read_params(path)
        except ModelFileError as error:
            raise ModelFileError(f"{error}; it is left as it is: use a new folder") from None
        saved += [False, False][len(saved) - len(PARAMS) + 2 :]  # the defaults, if left out
        for key, then, now in zip(PARAMS, _plain(saved), _plain(self.params()), strict=True):
            if then != now:
                raise ModelFileError(
                    f"{folder}: holds the run of another model (its params.pkl has {key} "
                    f"{then!r}, this model {now!r}); use a new folder, or load it with "
                    f"load_model(VariationalAutoencoder, {str(folder)!r})"
                )

    def save(self, folder) -> None:
        """Make ``folder`` with ``viz/``, ``weights/`` and ``images/``; write ``params.pkl`` and
        the models' summaries.

        Saving the same model again (the same ``params.pkl``, as the notebooks do each time they
        run, trained or not) rewrites ``params.pkl`` and the summaries and keeps everything else:
        the weights, the images and the run, which :meth:`train` continues with
        ``initial_epoch``. A folder that holds another model is refused in one line and left
        byte for byte as it was (see :meth:`check_folder`).

        Raises:
            ModelFileError: ``folder`` holds another model's run, or is a file.
        """
        folder = Path(folder)
        self.check_folder(folder)
        for part in ("viz", "weights", "images"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "params.pkl") as temporary:
            temporary.write_bytes(pickle.dumps(self.params()))
        self.plot_model(folder)

    def plot_model(self, run_folder) -> None:
        """The models' summaries as text: ``viz/model.txt``, ``encoder.txt``, ``decoder.txt``
        (into a folder of this model's only: see :meth:`check_folder`)."""
        self.check_folder(run_folder)
        for name, part in (("model", self.model), ("encoder", self.encoder),
                           ("decoder", self.decoder)):  # fmt: skip
            atomic_write_text(Path(run_folder) / "viz" / f"{name}.txt", _summary(part))

    def load_weights(self, filepath) -> None:
        """Load weights that :meth:`train` saved; the book's ``weights/weights.h5`` is read from
        ``weights/weights.weights.h5``."""
        path = weights_file(filepath)
        with warnings.catch_warnings(record=True) as caught:  # Keras's, about what it skipped
            warnings.simplefilter("always")
            try:
                self.model.load_weights(path)
            except (OSError, ValueError) as error:
                raise ModelFileError(
                    f"{path}: cannot load these weights into this model ({one_line(error)[:160]}"
                    "...); they are another model's, or damaged"
                ) from None
        for warning in caught:  # loaded: what Keras said stands
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


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
            path = renamed
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


def _positive(name: str, value) -> None:
    """Refuse anything but a finite number > 0, named as the book names it."""
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool)):
        raise ConfigError(f"{name}: got {value!r}, expected a finite number > 0")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name}: got {value!r}, expected a finite number > 0")


def _count(name: str, value, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``, else a one-line ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name}: got {value!r}, expected an integer >= {minimum}")
    return int(value)


def _plain_number(value):
    """NumPy's numbers as Python's (config.yaml holds those); anything else as it is, for the
    config's checks to name."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _book_names(error: VaekitError) -> VaekitError:
    """``error`` about one of train()'s arguments (``train.batch_size: ...``) with the book's name
    for it (``batch_size: ...``); any other as it is."""
    message = str(error)
    for vaekit_name, book_name in BOOK_NAMES.items():
        if message.startswith(f"{vaekit_name}:"):
            return type(error)(book_name + message[len(vaekit_name) :])
    return error


def _plain(values) -> list:
    """Tuples as lists, at any depth (params.pkl holds either)."""
    return [_plain(v) if isinstance(v, list | tuple) else v for v in values]


def _dataset(data, folder: Path) -> str:
    """``data.dataset`` for the training data (see the module docstring); writes nothing."""
    if isinstance(data, datasets.ImageData):  # a named set, or a folder (as an absolute path)
        return data.name if data.name in datasets.SOURCES else str(Path(data.name).resolve())
    if _is_mnist(np.asarray(data)):
        return "mnist"
    return str(folder.resolve() / "data.npz")


def _write_images(images: np.ndarray, folder: Path, continuing: bool) -> list[Path]:
    """Write ``images`` as ``folder``'s data.npz; returns what was made (the file, the folders),
    for a refusal to remove. A data.npz of the same images is kept as it is; one of others is
    replaced, unless the run that trained on it goes on (``continuing``)."""
    path = folder / "data.npz"
    if path.exists():
        if _same_images(path, images):
            return []
        if continuing:
            raise DataError(
                f"x_train: not the images of {path}, on which the run in {folder} trained; "
                "continue a run on its own images, or train into a new folder"
            )
    made = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, x_train=images, x_test=images[:TEST_IMAGES])
    return [path, *made]


def _same_images(path: Path, images: np.ndarray) -> bool:
    try:
        with np.load(path) as saved:
            x = saved["x_train"]
            return x.shape == images.shape and x.dtype == images.dtype and np.array_equal(x, images)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False


def _remove(paths: list[Path]) -> None:
    """Remove files, then folders if they are empty (what a refused call had made)."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() else path.unlink()


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


def read_params(path) -> list:
    """The book's list of a ``params.pkl``: the constructor's arguments, 8 to 10 of them.

    Raises:
        ModelFileError: it is missing, unreadable, or not such a list.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            params = _Params(handle).load()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not found (save(folder) writes it)") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: a folder, expected the file save(folder) writes") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({one_line(error)})") from None
    except Exception as error:  # a damaged pickle fails in many ways, all of them "unreadable"
        raise ModelFileError(f"{path}: unreadable ({one_line(error)})") from None
    if not isinstance(params, list | tuple) or not 8 <= len(params) <= len(PARAMS):
        found = type(params).__name__
        found = f"{len(params)} values" if isinstance(params, list | tuple) else f"a {found}"
        raise ModelFileError(
            f"{path}: holds {found}, expected the book's list of {len(PARAMS) - 2} to "
            f"{len(PARAMS)} ({', '.join(PARAMS)})"
        )
    return list(params)


def load_model(model_class, folder):
    """The book's ``load_model(VariationalAutoencoder, RUN_FOLDER)``: the model of
    ``params.pkl`` with the weights of ``weights/weights.h5`` (``.weights.h5``).

    Raises:
        ModelFileError: ``params.pkl`` or the weights are missing, damaged or of another model.
    """
    path = Path(folder) / "params.pkl"
    params = read_params(path)
    try:
        model = model_class(*params)
    except ConfigError as error:
        raise ModelFileError(f"{path}: {error}") from None
    model.load_weights(path.parent / "weights" / "weights.h5")
    return model
