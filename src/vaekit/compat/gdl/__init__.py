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

Where each part lives: :mod:`.model` (the class), :mod:`.callbacks` (its sample images and
weights during training), :mod:`.folder` (``params.pkl``, the weights files and the check of a
folder) and :mod:`.data` (MNIST, and the run's record of other images).
"""

from vaekit.compat.gdl.callbacks import BookSamples, BookWeights
from vaekit.compat.gdl.data import TEST_IMAGES, is_mnist, load_mnist
from vaekit.compat.gdl.folder import PARAMS, RUN_FILES, load_model, read_params, weights_file
from vaekit.compat.gdl.model import BOOK_NAMES, DROPOUT_RATE, VariationalAutoencoder
from vaekit.models.objective import sigma_of_r_loss_factor

__all__ = [
    "BOOK_NAMES",
    "DROPOUT_RATE",
    "PARAMS",
    "RUN_FILES",
    "TEST_IMAGES",
    "BookSamples",
    "BookWeights",
    "VariationalAutoencoder",
    "is_mnist",
    "load_mnist",
    "load_model",
    "read_params",
    "sigma_of_r_loss_factor",
    "weights_file",
]
