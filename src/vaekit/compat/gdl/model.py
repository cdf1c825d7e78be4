"""The book's ``VariationalAutoencoder``: its constructor, ``compile``, ``train`` and
``train_with_generator``, ``save`` and ``load_weights``, over :class:`vaekit.VariationalAutoencoder`
(see :mod:`vaekit.compat.gdl`).

Its arguments are checked as the book names them: an error about vaekit's ``train.batch_size``
reads ``batch_size``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from pathlib import Path

import keras
import numpy as np

from vaekit import datasets, report
from vaekit.compat.gdl.callbacks import BookSamples, BookWeights
from vaekit.compat.gdl.data import dataset_name, remove_made, write_images
from vaekit.compat.gdl.folder import PARAMS, check_run_folder, weights_file, write_params
from vaekit.config import Config
from vaekit.errors import ConfigError, DataError, ModelFileError, VaekitError, one_line
from vaekit.io import atomic_write_text
from vaekit.models.objective import Objective, sigma_of_r_loss_factor
from vaekit.models.vae import VariationalAutoencoder as VAE
from vaekit.training import run as runs

DROPOUT_RATE = 0.25  # the book's Dropout(rate=0.25)
# vaekit's names of train()'s arguments, as errors name them -> the book's.
BOOK_NAMES = {f"train.{key}": key for key in ("batch_size", "epochs", "lr_decay", "learning_rate")}


class VariationalAutoencoder:
    """The book's ``VariationalAutoencoder`` (see :mod:`vaekit.compat.gdl`).

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
        """Train on the images ``x_train`` into ``run_folder`` (see :mod:`vaekit.compat.gdl`);
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
        written = [] if images is None else write_images(images, folder, initial_epoch > 0)
        callbacks = [
            BookSamples(self, folder / "images", every, initial_epoch),
            BookWeights(self, folder / "weights"),
        ]
        try:
            runs.train_model(self.vae, config, folder, initial_epoch, callbacks, verbose,
                             finish=report.finish_run)  # fmt: skip
        except BaseException as error:
            if not (folder / "config.yaml").exists():  # refused before the run began
                remove_made(written)
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
        """The vaekit config of a run of this model on ``data`` (see :mod:`vaekit.compat.gdl`);
        writes nothing.

        Raises:
            ConfigError: ``batch_size``, ``epochs`` or ``lr_decay`` is invalid (vaekit's names).
        """
        values = Config().to_dict()
        values["model"].update({key: getattr(self.vae.config, key) for key in values["model"]})
        values["model"]["input_dim"] = list(self.vae.config.input_dim)
        values["data"].update(dataset=dataset_name(data, Path(folder)), validation="none")
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
        """Refuse a folder that holds another model's run, before anything is written into it
        (:func:`~vaekit.compat.gdl.folder.check_run_folder`).

        Raises:
            ModelFileError: ``folder`` is a file; its ``params.pkl`` cannot be read, or holds
                another architecture; or it holds a run (``config.yaml``, ``model.keras``,
                checkpoints, the book's weights) and no ``params.pkl``.
        """
        check_run_folder(folder, self.params())

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
        write_params(folder, self.params())
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
