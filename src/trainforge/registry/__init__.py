"""The model registry: versioned model packages in safe formats, with aliases and lineage."""

from trainforge.registry.loaded import LoadedModel
from trainforge.registry.records import ModelSummary, ModelVersion
from trainforge.registry.registry import Registry, load_package

__all__ = ["LoadedModel", "ModelSummary", "ModelVersion", "Registry", "load_package"]
