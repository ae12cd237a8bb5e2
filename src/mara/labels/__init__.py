"""Labels: what a label is, the ledger of late labels, and their join to captured traffic.

Checking and taking labels in is `mara.labels.ingest`.
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
from mara.labels.traffic import join_rows, labelled_rows, labelled_traffic, shadowed_traffic

__all__ = [
    "ClassMatcher",
    "LabelEntry",
    "LabelLedger",
    "entries_from_objects",
    "join_rows",
    "label_values",
    "labelled_rows",
    "labelled_traffic",
    "labels_dir",
    "normalize_label",
    "positive_class",
    "read_label_file",
    "shadowed_traffic",
    "training_classes",
]
