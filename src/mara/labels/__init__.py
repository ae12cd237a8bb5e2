"""Labels: what a label is, and the ledger of late labels joined to captured traffic.

`mara.labels.ingest` (checking and taking labels in) reads captured traffic, so it is
imported from there, not re-exported here.
"""

from mara.labels.classes import (
    ClassMatcher,
    label_values,
    normalize_label,
    positive_class,
    training_classes,
)
from mara.labels.files import LabelEntry, entries_from_objects, read_label_file
from mara.labels.ledger import LabelLedger, labels_dir

__all__ = [
    "ClassMatcher",
    "LabelEntry",
    "LabelLedger",
    "entries_from_objects",
    "label_values",
    "labels_dir",
    "normalize_label",
    "positive_class",
    "read_label_file",
    "training_classes",
]
