"""Where an interrupted ``agentmem migrate`` resumes: a small JSON file, replaced atomically.

It holds the collections already copied, the scan cursor inside the current one and the
running totals. It names the two stores by a hash of their URLs (never the URLs, which may
carry passwords), so a checkpoint is never applied to another pair of stores.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agentmem.errors import InvalidInput

__all__ = ["Checkpoint", "default_checkpoint_path", "pair_id"]


def pair_id(source: str, target: str) -> str:
    """A stable name for a (source, target) pair of URLs that reveals neither."""
    return hashlib.sha256(f"{source}\n{target}".encode()).hexdigest()[:16]


def default_checkpoint_path(source: str, target: str) -> Path:
    """``./agentmem-migrate-<pair id>.json``: visible where the command was run."""
    return Path(f"agentmem-migrate-{pair_id(source, target)}.json")


@dataclass
class Checkpoint:
    """Progress of one migration."""

    pair: str
    done: list[list[str]] = field(default_factory=list)
    """[kind, namespace] collections copied completely."""
    current: list[str] | None = None
    """The collection being copied, when ``cursor`` is set."""
    cursor: str | None = None
    copied: int = 0
    written: int = 0

    @classmethod
    def load(cls, path: Path, pair: str) -> Checkpoint | None:
        """The checkpoint at ``path`` for this pair, None if there is none."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"cannot read the checkpoint {path}: {exc}; remove it or pass --restart"
            ) from None
        if not isinstance(data, dict) or data.get("pair") != pair:
            raise InvalidInput(
                f"the checkpoint {path} belongs to another source and target; "
                "pass --checkpoint with another file, or --restart"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInput(
                f"the checkpoint {path} is malformed ({exc}); pass --restart"
            ) from None

    def is_done(self, kind: str, namespace: str) -> bool:
        return [kind, namespace] in self.done

    def resume_cursor(self, kind: str, namespace: str) -> str | None:
        return self.cursor if self.current == [kind, namespace] else None

    def save(self, path: Path) -> None:
        """Write the checkpoint so that a crash leaves either the old or the new one."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(tmp, path)
