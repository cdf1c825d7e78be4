"""Run folders, and nothing else: the one package that knows what a run folder holds.

Below :mod:`vaekit.training`, :mod:`vaekit.evaluation` and :mod:`vaekit.report`, which import it
and never each other; it imports none of them.

- :mod:`~vaekit.runs.folder`: its files and their names, opening one (config.yaml checked against
  its model), loading its model;
- :mod:`~vaekit.runs.lock`: one writer at a time;
- :mod:`~vaekit.runs.metrics`: the metrics table, ``metrics.csv``;
- :mod:`~vaekit.runs.checkpoints`: the checkpoints' names, listing, the newest, their state;
- :mod:`~vaekit.runs.agreement`: the config and the model agree, and what a resume may change;
- :mod:`~vaekit.runs.data`: the images a run trains and is scored on;
- :mod:`~vaekit.runs.scores`: its disentanglement scores' file, the settings they record and
  when two compare.
"""
