"""What one check of ``agentmem doctor`` found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Finding", "Status"]

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: ``fail`` makes ``doctor`` exit non-zero."""

    check: str
    status: Status
    detail: str
    where: str = ""
