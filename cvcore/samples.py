"""The sample photos bundled in ``assets/samples`` with their recorded provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
SAMPLES_DIR = ASSETS_DIR / "samples"


@dataclass(frozen=True)
class Sample:
    file: str
    title: str
    author: str
    licence: str
    origin: str
    expect: str

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / self.file

    @property
    def credit(self) -> str:
        return f"{self.title} — {self.author}, {self.licence} (via {self.origin})"


def list_samples() -> list[Sample]:
    records = json.loads((SAMPLES_DIR / "samples.json").read_text())["samples"]
    return [Sample(**r) for r in records]


def get_sample(file: str) -> Sample:
    for sample in list_samples():
        if sample.file == file or sample.file.rsplit(".", 1)[0] == file:
            return sample
    raise KeyError(f"No bundled sample {file!r}; have {[s.file for s in list_samples()]}.")
