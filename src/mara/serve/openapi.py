"""The service's OpenAPI document, generated from the problems it serves."""

from __future__ import annotations

from typing import Any

from mara import __version__

__all__ = ["openapi_document"]

_CELL: dict[str, Any] = {}  # any JSON value: cells are cleaned, never refused

_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(problems: list[str], *, max_rows: int) -> dict[str, Any]:
    """OpenAPI 3.0 for `POST /<phase>/<prob>/predict` and `.../labels` on each served problem."""
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "Readiness: 200 once every worker's models are loaded and at full "
                "speed; 503 while starting or draining",
                "responses": {
                    "200": {"description": "Served models, and what each worker answers"},
                    "503": _error("The server is shutting down"),
                },
            }
        },
    }
    for problem in problems:
        paths[f"/{problem}/predict"] = {
            "post": {
                "summary": f"Predict a batch for {problem}",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "One prediction per row, in order",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Predictions"}
                            }
                        },
                    },
                    "400": _error("The body is not JSON"),
                    "408": _error("The body did not arrive within the body timeout"),
                    "413": _error(f"More than {max_rows} rows, or a body over the byte limit"),
                    "422": _error(
                        "JSON that is not a batch: a field missing or mistyped, rows "
                        "of the wrong length, duplicate columns, no model feature"
                    ),
                    "503": _error(
                        "The problem's champion could not be loaded, or this worker has as "
                        "many requests in flight as it takes (then with Retry-After)"
                    ),
                },
            }
        }
        paths[f"/{problem}/labels"] = {
            "post": {
                "summary": f"Late labels for batches of {problem} served earlier",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Labels"},
                                    {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"$ref": "#/components/schemas/Labels"},
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Labels kept; what joined captured batches",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/LabelReport"}
                            }
                        },
                    },
                    "400": _error("The body is not JSON"),
                    "422": _error(
                        "Labels that cannot be taken: not {id, labels}, a label outside the "
                        "training classes, a count that differs from the batch's rows; "
                        "nothing of the request was kept"
                    ),
                    "503": _error("The problem's champion could not be loaded"),
                },
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "mara prediction service", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {
                "Batch": {
                    "type": "object",
                    "required": ["id", "columns", "rows"],
                    "properties": {
                        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                        "columns": {
                            "type": "array",
                            "items": {"type": "string"},
                            "uniqueItems": True,  # a name sent twice gets 422
                        },
                        "rows": {"type": "array", "items": {"type": "array", "items": _CELL}},
                    },
                },
                "Predictions": {
                    "type": "object",
                    "required": ["id", "predictions", "drift"],
                    "properties": {
                        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                        "predictions": {"type": "array"},
                        "drift": {"type": "integer", "enum": [0, 1]},
                    },
                },
                "Labels": {
                    "type": "object",
                    "required": ["id", "labels"],
                    "properties": {
                        "id": {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]},
                        "labels": {"type": "array", "items": _CELL},
                    },
                },
                "LabelReport": {
                    "type": "object",
                    "required": ["rows_labelled", "ids", "ids_joined", "ids_not_found"],
                    "properties": {
                        "rows_labelled": {"type": "integer"},
                        "rows_unknown": {"type": "integer"},
                        "ids": {"type": "integer"},
                        "ids_joined": {"type": "integer"},
                        "ids_not_found": {"type": "integer"},
                        "rows_relabelled": {"type": "integer"},
                    },
                },
                "Error": _ERROR,
            }
        },
    }
