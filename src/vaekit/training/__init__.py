"""Training a run: :mod:`.run` (``train``, ``train_model``, ``resume``) and its parts, by role:
:mod:`.preflight` (memory, disk and folder checks before any work), :mod:`.device` and
:mod:`.compiling` (device settings, the compiled model), :mod:`.fitting` (callbacks, ``fit``, the
final save), :mod:`.resume`, :mod:`.checkpoints` (exact-resume checkpoints), :mod:`.callbacks`
(the metrics table, the KL schedule), :mod:`.guards` (NaN and signal stops), :mod:`.failures`
(what an out-of-memory or a divergence says), :mod:`.tensorboard`. The run folder itself is
:mod:`vaekit.runs`'; the plots and the report are drawn by the caller (the CLI)."""
