"""Access groups per document from `acl.yaml` files placed in the source folders.

An `acl.yaml` maps glob patterns (relative to its folder) to lists of groups:

    "*.md": [hr]
    "salaries/**": [hr, finance]
    "*": [everyone]

It applies to its folder and everything below; the nearest `acl.yaml` with a matching pattern
wins, and within one file the first matching pattern wins. Files nothing matches get the run's
groups (`--acl`, else GQA_DEFAULT_ACL). JSONL records with an "acl" field keep their own.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

ACL_FILE = "acl.yaml"


class AclError(ValueError):
    """An acl.yaml that is not a mapping of glob -> list of groups."""


@dataclass
class AclRules:
    """acl.yaml rules found under one root, read once."""

    root: Path
    default: tuple[str, ...]
    _rules: dict[Path, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, default: tuple[str, ...]) -> AclRules:
        rules = cls(root, default)
        base = root if root.is_dir() else root.parent
        for f in sorted(base.rglob(ACL_FILE)) if root.is_dir() else [base / ACL_FILE]:
            if f.is_file():
                rules._rules[f.parent] = _parse(f)
        return rules

    def groups_for(self, file: Path) -> tuple[str, ...]:
        """The groups of one file: nearest acl.yaml with a matching pattern, else the default."""
        top = self.root if self.root.is_dir() else self.root.parent
        folders = [file.parent, *(p for p in file.parent.parents if p == top or top in p.parents)]
        for folder in folders:
            for pattern, groups in self._rules.get(folder, []):
                rel = file.relative_to(folder).as_posix()
                if PurePosixPath(rel).match(pattern) or fnmatch.fnmatch(rel, pattern):
                    return groups
        return self.default


def _parse(f: Path) -> list[tuple[str, tuple[str, ...]]]:
    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AclError(f"{f}: cannot read ({exc})") from exc
    if not isinstance(data, dict):
        raise AclError(f"{f}: must map glob patterns to lists of groups, e.g. '\"*.md\": [hr]'")
    out = []
    for pattern, groups in data.items():
        if isinstance(groups, str):
            groups = [groups]
        if (
            not isinstance(groups, list)
            or not groups
            or not all(isinstance(g, str) for g in groups)
        ):
            raise AclError(f"{f}: pattern {pattern!r} needs a non-empty list of group names")
        out.append((str(pattern), tuple(groups)))
    return out
