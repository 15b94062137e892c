"""The schema's closed lists name exactly what the code can build: a model or dataset added to its registry but
not to the schema would be refused by every config, and one left in the schema after its code is gone would
pass validation and fail inside a job."""

import yaml

from prunelab.config.validation import schema_path
from prunelab.data.catalog import DATASETS as SIZED
from prunelab.data.catalog import STREAMED
from prunelab.data.tensors import DATASETS as LOADABLE
from prunelab.models import MODELS


def _definitions() -> dict:
    return yaml.safe_load(schema_path().read_text())["$defs"]


def test_the_schema_names_every_model_the_zoo_builds_and_no_other():
    assert set(_definitions()["model"]["properties"]["name"]["enum"]) == set(MODELS)


def test_the_schema_names_every_dataset_the_loader_reads_and_no_other():
    assert set(_definitions()["dataset"]["properties"]["name"]["enum"]) == set(LOADABLE)


def test_every_in_memory_dataset_has_sizes_for_planning():
    """Plans convert '2ep' to iterations and estimate memory from these sizes, without loading the data; image
    folders are counted in their listing instead."""
    assert set(LOADABLE) - set(STREAMED) <= set(SIZED)
