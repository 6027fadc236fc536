"""The model card (README.md with metadata) saved beside a model, as the Hugging Face hub has it."""

import json
from pathlib import Path
from typing import Any

import yaml


def write_model_card(directory: Path, *, title: str, summary: str, details: dict[str, Any]) -> Path:
    metadata = {
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["tuneloop"],
    }
    body = "\n".join(
        [
            "---",
            yaml.safe_dump(metadata, sort_keys=False).strip(),
            "---",
            f"# {title}",
            "",
            summary,
            "",
            "## Details",
            "",
            "```json",
            json.dumps(details, indent=2, default=str),
            "```",
            "",
        ]
    )
    path = directory / "README.md"
    path.write_text(body)
    return path
