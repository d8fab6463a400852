"""The datasets, by name. Each module of exports/datasets/ registers one when imported; adding a
dataset (campaign_results, loyalty_ledger, bonuses...) is adding a file there, nothing else."""

from __future__ import annotations

import importlib
import pkgutil

from engage.engine.analytics.exports.spec import Dataset

_DATASETS: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    if dataset.name in _DATASETS and _DATASETS[dataset.name] is not dataset:
        raise ValueError(f"two export datasets are named {dataset.name!r}")
    _DATASETS[dataset.name] = dataset
    return dataset


def _load() -> None:
    from engage.engine.analytics.exports import datasets

    for module in pkgutil.iter_modules(datasets.__path__):
        importlib.import_module(f"{datasets.__name__}.{module.name}")


def all_datasets() -> list[Dataset]:
    _load()
    return [_DATASETS[name] for name in sorted(_DATASETS)]


def get(name: str) -> Dataset:
    _load()
    try:
        return _DATASETS[name]
    except KeyError:
        raise KeyError(f"no export dataset {name!r}; there are: {', '.join(sorted(_DATASETS))}") from None
