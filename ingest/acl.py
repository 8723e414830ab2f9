"""Access groups per document from `acl.yaml` files placed in the source folders.

An `acl.yaml` maps glob patterns (relative to its folder) to lists of groups:

    "*.md": [hr]
    "salaries/**": [hr, finance]
    "*": [everyone]

It applies to its folder and everything below. The acl.yaml files read for a root (a folder or
a single file) are those in the folders walked under it and in every folder above it, up to the
filesystem root, so a rule placed above the folder or file being synced still applies. The
nearest `acl.yaml` with a matching pattern wins, and within one file the first matching pattern
wins (a pattern given twice in one file is an error). Files nothing matches get the run's
groups (`--acl`, else GQA_DEFAULT_ACL). JSONL records with an "acl" field keep their own.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

ACL_FILE = "acl.yaml"


class AclError(ValueError):
    """An acl.yaml that is not a mapping of glob -> list of groups."""


@dataclass
class AclRules:
    """acl.yaml rules that apply under one root, read once."""

    root: Path
    default: tuple[str, ...]
    # Absolute folder (not symlink-resolved) -> its acl.yaml's (pattern, groups) in file order.
    _rules: dict[Path, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, default: tuple[str, ...]) -> AclRules:
        """Read the acl.yaml files that apply under `root`: in every folder above it and, for a
        folder, in the folders under it that `Root.files` walks (hidden and symlinked folders
        are skipped; a folder that cannot be listed is reported there, not here).

        Raises AclError for an acl.yaml that cannot be read or is not a mapping of glob
        patterns to lists of groups.
        """
        rules = cls(root, default)
        base = _absolute(root if root.is_dir() else root.parent)
        for folder in (base, *base.parents):
            if os.path.isfile(folder / ACL_FILE):
                rules._rules[folder] = _parse(folder / ACL_FILE)
        for folder, _, names in walk(base) if root.is_dir() else ():
            if folder != base and ACL_FILE in names:
                rules._rules[folder] = _parse(folder / ACL_FILE)
        return rules

    def groups_for(self, file: Path) -> tuple[str, ...]:
        """The groups of one file: nearest acl.yaml with a matching pattern, else the default."""
        path = _absolute(file)
        for folder in path.parents:
            for pattern, groups in self._rules.get(folder, []):
                rel = path.relative_to(folder).as_posix()
                if PurePosixPath(rel).match(pattern) or fnmatch.fnmatch(rel, pattern):
                    return groups
        return self.default


def _absolute(path: Path) -> Path:
    # Not resolve(): a symlinked file takes its rules from where it is linked, not its target.
    return Path(os.path.abspath(path))


def walk(
    top: Path, onerror: Callable[[OSError], None] | None = None
) -> Iterator[tuple[Path, list[str], list[str]]]:
    """The folders under `top` (itself included), each with its folder and file names, sorted:
    the walk of `Root.files` and of the acl.yaml files. Hidden folders and files (names
    starting with '.') are left out; symlinked folders are listed but not entered. A folder
    that cannot be listed goes to `onerror` (ignored without one)."""
    for folder, dirs, names in os.walk(top, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield Path(folder), dirs, sorted(n for n in names if not n.startswith("."))


class _DuplicateKey(yaml.constructor.ConstructorError):
    def __init__(self, key: object, node: yaml.Node) -> None:
        super().__init__(None, None, f"pattern {key!r} appears twice", node.start_mark)
        self.key = key
        self.line = node.start_mark.line + 1


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal keys, which contradicts "the first matching
    pattern wins": this loader rejects them."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(key, key_node)
            seen.add(key)
        return mapping


def _parse(f: Path) -> list[tuple[str, tuple[str, ...]]]:
    try:
        data = yaml.load(f.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    except _DuplicateKey as exc:
        raise AclError(
            f"{f}: pattern {exc.key!r} is given twice (line {exc.line}); the first matching "
            "pattern wins, so keep one entry per pattern"
        ) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
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
